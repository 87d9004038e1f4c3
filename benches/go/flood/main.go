// Delivery benchmark, Go figure: connects to benches' flood_peer (PORT, N), counts the
// assistant.message_delta events delivered into an On handler, checks their order, and prints
// one JSON line (events per second from send to the turn's end delivered).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	copilot "copilothub.dev/copilot"
)

func main() {
	port, _ := strconv.Atoi(os.Args[1])
	n, _ := strconv.Atoi(os.Args[2])
	ctx := context.Background()
	client := copilot.NewClient(&copilot.ClientOptions{CLIUrl: fmt.Sprintf("127.0.0.1:%d", port)})
	if err := client.Start(ctx); err != nil {
		panic(err)
	}
	session, err := client.CreateSession(ctx, &copilot.SessionConfig{})
	if err != nil {
		panic(err)
	}
	count, inOrder := 0, true
	idle := make(chan struct{}, 1)
	session.On(func(ev copilot.SessionEvent) {
		switch ev.Type {
		case "assistant.message_delta":
			if ev.Data.DeltaContent == nil || *ev.Data.DeltaContent != strconv.Itoa(count)+" " {
				inOrder = false
			}
			count++
		case "session.idle":
			idle <- struct{}{}
		}
	})
	t0 := time.Now()
	if _, err := session.SendAndWait(ctx, copilot.MessageOptions{Prompt: "flood", Timeout: 10 * time.Minute}); err != nil {
		panic(err)
	}
	<-idle
	secs := time.Since(t0).Seconds()
	out, _ := json.Marshal(map[string]any{"lang": "go", "events": count, "expected": n, "in_order": inOrder,
		"seconds": secs, "per_sec": int(float64(count) / secs)})
	fmt.Println(string(out))
	_ = client.Stop()
}
