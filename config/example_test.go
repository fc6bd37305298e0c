package config_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/config"
	"github.com/cybercorp/hotreload/history"
)

// Limits is part of the example's typed configuration.
type Limits struct {
	RPS int `json:"rps"`
}

// AppConfig is the example's typed configuration.
type AppConfig struct {
	Name   string `json:"name"`
	Limits Limits `json:"limits"`
}

// Example loads a YAML file with a schema through an engine, reads it
// lock-free, updates it with a merge patch, sees an invalid edit rejected
// with its file, line and column, and rolls back.
func Example() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "app.yaml")
	_ = os.WriteFile(file, []byte("name: shop\nlimits:\n  rps: 10\n"), 0o644)
	schema, _ := config.CompileSchema("schema.json", []byte(`{
		"type": "object",
		"properties": {"limits": {"properties": {"rps": {"type": "integer", "minimum": 1}}}}
	}`))

	ctx, cancel := context.WithCancel(context.Background())
	hist, _ := history.Open(history.Options{Dir: filepath.Join(dir, "history")})
	engine := hotreload.New(hotreload.Options{History: hist})
	done := make(chan error, 1)
	go func() { done <- engine.Run(ctx) }()
	defer func() { cancel(); <-done; hist.Close() }()

	cfg, _, err := config.Open(ctx, engine, config.Options[AppConfig]{Files: []string{file}, Schema: schema})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cfg.Close(context.Background())
	cfg.Subscribe("/limits", func(u config.Update[AppConfig]) {
		fmt.Printf("limits changed: %v\n", u.Changes[0].Path)
	})
	fmt.Println("rps:", cfg.Load().Limits.RPS)

	_, _ = cfg.Update(ctx, []byte(`{"limits": {"rps": 20}}`), "alice")
	fmt.Println("rps:", cfg.Load().Limits.RPS)

	_ = os.WriteFile(file, []byte("name: shop\nlimits:\n  rps: 0\n"), 0o644)
	if _, err := cfg.Reload(ctx, "bob"); err != nil {
		for _, d := range hotreload.ErrorDetails(err) {
			d.File = filepath.Base(d.File)
			fmt.Println("rejected:", d)
		}
	}
	fmt.Println("rps:", cfg.Load().Limits.RPS)

	_, _ = cfg.Rollback(ctx, 0, "carol")
	fmt.Println("rps:", cfg.Load().Limits.RPS)
	// Output:
	// rps: 10
	// limits changed: /limits/rps
	// rps: 20
	// rejected: app.yaml:3:8: /limits/rps: must be >= 1 but found 0
	// rps: 20
	// limits changed: /limits/rps
	// rps: 10
}

// ExampleWatch is the library's happy path: one call gives a typed,
// validated config reloaded on every save, with history in memory.
func ExampleWatch() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "app.yaml")
	_ = os.WriteFile(file, []byte("name: shop\nlimits:\n  rps: 10\n"), 0o644)
	cfg, err := config.Watch(context.Background(), config.Options[AppConfig]{Files: []string{file}}, config.WatchOptions{})
	if err != nil {
		panic(err)
	}
	defer cfg.Close(context.Background())
	fmt.Println("rps:", cfg.Load().Limits.RPS)
	saved := make(chan int, 1)
	cfg.Subscribe("/limits", func(u config.Update[AppConfig]) { saved <- u.New.Value.Limits.RPS })
	_ = os.WriteFile(file, []byte("name: shop\nlimits:\n  rps: 20\n"), 0o644)
	fmt.Println("rps after the save:", <-saved)
	// Output:
	// rps: 10
	// rps after the save: 20
}
