package plugin_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/cybercorp/hotreload/plugin"
	"github.com/cybercorp/hotreload/plugin/plugintest"
)

// A host on a plugin directory, without an engine: Sync loads what the
// directory holds (in a program, Watch keeps doing it), Call runs a
// plugin's hook.
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
	host, err := plugin.New(plugin.Options{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer host.Close(context.Background())

	outs, err := host.Sync(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(outs[0].Result, outs[0].Targets[0].Modules)

	out, err := host.Call(context.Background(), "echo", []byte(`{"body":"hi"}`))
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
