"""`rayeval report`: uncertainty of every metric, paired comparisons between models, and the
report files (Markdown, CSV, HTML, PNG) and experiment-tracker runs built from them."""
