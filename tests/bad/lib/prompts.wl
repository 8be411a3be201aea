; A small prompt library imported by the corpus.
(def review-prompt "Review this change carefully:\n")
