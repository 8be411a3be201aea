// The run page of a running run follows it: the server sends the graph (escaped
// HTML it rendered) whenever it changes, and the run's status, until the run ends.
(function () {
  const graph = document.getElementById("graph");
  if (!graph || graph.dataset.live !== "true" || !window.EventSource) return;
  const status = document.getElementById("run-status");
  const events = new EventSource(graph.dataset.events);
  events.addEventListener("graph", (e) => { graph.innerHTML = e.data; });
  events.addEventListener("status", (e) => {
    status.textContent = e.data;
    status.className = "status " + e.data;
  });
  events.addEventListener("problem", (e) => {
    const problem = document.getElementById("live-problem");
    problem.textContent = e.data;
    problem.hidden = false;
  });
  events.addEventListener("done", () => {
    events.close();
    graph.dataset.live = "false";
  });
})();
