.PHONY: run test bench
run:   ## napari with the widgets and a sample (headless loop without a display)
	scripts/run.sh
test:  ## everything CI runs: lint, import contract, pytest under Xvfb with PoCL
	scripts/test.sh
bench: ## speed and quality benchmarks (writes benchmarks/results/)
	.venv/bin/python benchmarks/run_all.py
