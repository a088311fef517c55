package clitest

import (
	"net"
	"testing"
)

func listen(t testing.TB, keep bool) int {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if keep {
		t.Cleanup(func() { ln.Close() })
	} else {
		ln.Close()
	}
	return port
}
