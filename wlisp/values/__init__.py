"""The data every stage shares: datums (symbols, keywords, lists, vectors, maps, with
source spans) and the pure builtins over them, used alike at compile time and at
run time."""
