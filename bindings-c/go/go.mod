module copilothub.dev/copilot

go 1.23
