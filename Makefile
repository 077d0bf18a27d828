.PHONY: demo test bench docs

demo:  ## venv + install + migrate + seed + train + run the demo shop on :8000
	bash scripts/demo.sh

test:  ## venv + install + the whole test suite
	bash scripts/test.sh

bench:  ## performance figures with ratios against in-run baselines
	bash scripts/bench.sh

docs:
	.venv/bin/python -m sphinx -W -b html docs docs/_build/html
