module copilothub.dev/benches/flood

go 1.23

require copilothub.dev/copilot v0.0.0

replace copilothub.dev/copilot => ../../../bindings-c/go
