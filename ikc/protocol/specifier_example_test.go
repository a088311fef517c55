package protocol_test

import (
	"fmt"

	"github.com/poe-go/poe/ikc/protocol"
)

func ExampleParseSpecifier() {
	for _, s := range []string{
		"poe://Pulse/timeserver/connect",
		"poe:/timeserver",
		"session/state?tag",
		"poe://k/s/IKC:proxy", // ":" is not allowed in a state name
	} {
		spec, err := protocol.ParseSpecifier(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("kernel=%q session=%q state=%q args=%q -> %s\n",
			spec.Kernel, spec.Session, spec.State, spec.Args, spec)
	}
	// Output:
	// kernel="Pulse" session="timeserver" state="connect" args="" -> poe://Pulse/timeserver/connect
	// kernel="" session="timeserver" state="" args="" -> poe:/timeserver
	// kernel="" session="session" state="state" args="tag" -> poe:/session/state
	// ikc: invalid specifier: "poe://k/s/IKC:proxy"
}
