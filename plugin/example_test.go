package plugin_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/history"
	"github.com/cybercorp/hotreload/plugin"
	"github.com/cybercorp/hotreload/plugin/plugintest"
)

// A host on a plugin directory, run by an engine (history in memory, no
// health gate): adding the host loads what the directory holds (in a
// program, Watch then keeps doing it), Call runs a plugin's hook.
func ExampleHost() {
	dir, err := os.MkdirTemp("", "plugins")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// Any module implementing the ABI; here the tiny echo module.
	if err := os.WriteFile(filepath.Join(dir, "echo.wasm"), plugintest.Echo(), 0o644); err != nil {
		log.Fatal(err)
	}
	hist, err := history.Memory(history.Options{})
	if err != nil {
		log.Fatal(err)
	}
	engine := hotreload.New(hotreload.Options{History: hist})
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go engine.Run(ctx)

	host, err := plugin.New(plugin.Options{Dir: dir, Submit: engine.Reload})
	if err != nil {
		log.Fatal(err)
	}
	defer host.Close(context.Background())
	o, err := engine.Add(ctx, host)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(o.Result, o.Targets[0].Modules)

	out, err := host.Call(ctx, "echo", []byte(`{"body":"hi"}`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(out))

	info, _ := host.Info("echo")
	fmt.Println(info.State, info.Instances, info.Calls)
	// Output:
	// committed [echo]
	// {"body":"hi"}
	// ready 2 1
}
