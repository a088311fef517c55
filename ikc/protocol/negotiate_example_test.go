package protocol_test

import (
	"fmt"
	"time"

	"github.com/poe-go/poe/ikc/protocol"
)

// A server answering the IKC0 SETUP line of a Perl client
// (testdata/ikc/captures/b-ikc0-negotiation).
func ExampleServerNegotiator() {
	s, err := protocol.NewServerNegotiator(protocol.Config{
		KernelID: "go-00000001",
		Names:    []string{"Server", "Srv", protocol.TCPName("127.0.0.1", 603)},
		PID:      4242,
	})
	if err != nil {
		panic(err)
	}
	s.Start(time.Now())
	for _, line := range []string{
		"HELLO IKC1", // an old dialect: refused
		"SETUP KERNEL=vm-6b049141-00002c2b-00000001,Client,127.0.0.1:42902;FREEZER=Storable,FreezeThaw,POE::Component::IKC::Freezer;PID=11307",
	} {
		send, res, err := s.Feed(line)
		if err != nil {
			panic(err)
		}
		for _, l := range send {
			fmt.Printf("send %s\n", l) // the driver writes l + protocol.LineTerminator
		}
		if res != nil {
			fmt.Printf("peer %s aliases %v pid %d freezer %s IKC0 %v\n",
				res.RemoteID, res.RemoteAliases, res.RemotePID, res.FreezerName, res.IKC0)
		}
	}
	// Output:
	// send NOT
	// send SETUP KERNEL=go-00000001,Server,Srv,127.0.0.1:603;FREEZER=Storable;PID=4242
	// peer vm-6b049141-00002c2b-00000001 aliases [Client 127.0.0.1:42902] pid 11307 freezer Storable IKC0 true
}

// A client in the IKC0 dialect meeting a server that only speaks IKC: the
// NOT makes it fall back to HELLO on the same connection
// (testdata/ikc/captures/b2-ikc0-client-ikc-server).
func ExampleClientNegotiator() {
	c, err := protocol.NewClientNegotiator(protocol.Config{
		KernelID: "go-00000002",
		Names:    []string{"Client", protocol.TCPName("127.0.0.1", 44534)},
		PID:      11317,
	})
	if err != nil {
		panic(err)
	}
	for _, l := range c.Start(time.Now()) {
		fmt.Println("send", l)
	}
	for _, line := range []string{"NOT", "IAM vm-1", "IAM Server", "DONE", "OK", "OK", "OK", "OK", "UP"} {
		send, res, err := c.Feed(line)
		if err != nil {
			panic(err)
		}
		for _, l := range send {
			fmt.Println("send", l)
		}
		if res != nil {
			fmt.Printf("connected to %s %v with %s\n", res.RemoteID, res.RemoteAliases, res.FreezerName)
		}
	}
	// Output:
	// send SETUP KERNEL=go-00000002,Client,127.0.0.1:44534;FREEZER=Storable;PID=11317
	// send HELLO
	// send OK
	// send OK
	// send IAM go-00000002
	// send IAM 127.0.0.1:44534
	// send IAM Client
	// send DONE
	// send FREEZER Storable
	// send WORLD
	// connected to vm-1 [Server] with Storable
}
