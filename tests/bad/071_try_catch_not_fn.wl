; expect: W0303|W0307 7:15
; :catch must be a function of the error.
(defagent deployer :role :implement)

(defworkflow main [service]
  (try (spawn deployer (fmt "Deploy {service}"))
       :catch "deployment failed"))
