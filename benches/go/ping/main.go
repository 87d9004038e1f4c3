// Ping latency of this repository's Go SDK (copilothub.dev/copilot: cgo -> libcopilot -> the
// Rust core) against the official Go SDK (github.com/github/copilot-sdk/go, pure Go), both
// connected over TCP to the same headless Copilot CLI, in one process, in interleaved blocks
// (the order alternates per block) so that drift of the machine hits both alike.
//
// Not a test: run it with benches/go/run.sh, which builds it in a scratch module under
// target/ (the official SDK is fetched there through the Go module proxy, never into the
// repository).
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	ours "copilothub.dev/copilot"
	official "github.com/github/copilot-sdk/go"
)

// pinger is one SDK's ping.
type pinger struct {
	name string
	ping func(ctx context.Context) error
	// samples are the measured round trips; blockP50 the median of each measured block.
	samples  []time.Duration
	blockP50 []time.Duration
}

func (p *pinger) block(ctx context.Context, n int, record bool) {
	block := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if err := p.ping(ctx); err != nil {
			log.Fatalf("%s: ping: %v", p.name, err)
		}
		block = append(block, time.Since(t0))
	}
	if record {
		p.samples = append(p.samples, block...)
		slices.Sort(block)
		p.blockP50 = append(p.blockP50, quantile(block, 0.5))
	}
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	return sorted[int(q*float64(len(sorted)-1)+0.5)]
}

func micros(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

// startCLI runs `copilot --headless --port 0` (isolated HOME) and returns its port.
func startCLI(cli, dir string) (*exec.Cmd, string, error) {
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, "", err
	}
	cmd := exec.Command(cli, "--headless", "--port", "0", "--no-auto-update")
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH")}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	re := regexp.MustCompile(`listening on port (\d+)`)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			go func() { _, _ = io.Copy(io.Discard, out) }()
			return cmd, m[1], nil
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return nil, "", fmt.Errorf("the CLI did not announce its port")
}

func main() {
	cli := flag.String("cli", os.Getenv("COPILOT_CLI_PATH"), "Copilot CLI executable")
	blocks := flag.Int("blocks", 50, "measured blocks per SDK (interleaved)")
	perBlock := flag.Int("n", 100, "pings per block")
	warmup := flag.Int("warmup", 500, "unmeasured pings per SDK first")
	url := flag.String("url", "", "host:port of a running headless CLI (default: start one)")
	flag.Parse()
	if *url == "" {
		if *cli == "" {
			log.Fatal("give -cli, COPILOT_CLI_PATH or -url")
		}
		dir, err := os.MkdirTemp("", "copilot-go-bench-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(dir)
		cmd, port, err := startCLI(*cli, dir)
		if err != nil {
			log.Fatal(err)
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		*url = "127.0.0.1:" + port
	}
	ctx := context.Background()

	a := ours.NewClient(&ours.ClientOptions{CLIUrl: *url})
	if err := a.Start(ctx); err != nil {
		log.Fatalf("copilothub.dev/copilot: %v", err)
	}
	defer a.Close()
	b := official.NewClient(&official.ClientOptions{Connection: official.URIConnection{URL: *url}})
	if err := b.Start(ctx); err != nil {
		log.Fatalf("github.com/github/copilot-sdk/go: %v", err)
	}
	defer func() { _ = b.Stop() }()

	sdks := []*pinger{
		{name: "copilothub.dev/copilot (cgo + core)", ping: func(ctx context.Context) error {
			_, err := a.Ping(ctx, "bench")
			return err
		}},
		{name: "github.com/github/copilot-sdk/go", ping: func(ctx context.Context) error {
			_, err := b.Ping(ctx, "bench")
			return err
		}},
	}
	for _, s := range sdks {
		s.block(ctx, *warmup, false)
	}
	for i := 0; i < *blocks; i++ {
		for j := range sdks {
			sdks[(i+j)%len(sdks)].block(ctx, *perBlock, true)
		}
	}
	fmt.Printf("ping over TCP, one CLI (%s), %d interleaved blocks of %d pings per SDK after %d warm-up pings\n",
		*url, *blocks, *perBlock, *warmup)
	fmt.Printf("%-40s %9s %9s %9s %9s\n", "SDK", "p50 µs", "p90 µs", "p99 µs", "mean µs")
	p50 := make([]time.Duration, len(sdks))
	for i, s := range sdks {
		sorted := slices.Clone(s.samples)
		slices.Sort(sorted)
		var sum time.Duration
		for _, d := range sorted {
			sum += d
		}
		p50[i] = quantile(sorted, 0.5)
		fmt.Printf("%-40s %9.1f %9.1f %9.1f %9.1f\n", s.name, micros(p50[i]), micros(quantile(sorted, 0.9)),
			micros(quantile(sorted, 0.99)), micros(sum/time.Duration(len(sorted))))
	}
	// Adjacent blocks ran under the same load: the median of their ratios is the steadier number.
	ratios := make([]float64, *blocks)
	for i := range ratios {
		ratios[i] = float64(sdks[0].blockP50[i]) / float64(sdks[1].blockP50[i])
	}
	slices.Sort(ratios)
	fmt.Printf("p50 ratio (ours / official): %.2fx overall, %.2fx median of the block pairs (target <= 1.20x)\n",
		float64(p50[0])/float64(p50[1]), ratios[len(ratios)/2])
}
