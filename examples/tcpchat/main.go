// Command tcpchat is a chat server on POE::Component::Server::TCP
// (component/servertcp): the component accepts connections and runs a
// session per connection; this program only says what a connection does.
// ClientConnected and ClientDisconnected keep the member list, ClientInput
// handles what a user types, and an extra "send" state (InlineStates) of
// every connection's session puts a line on its socket, so a broadcast is
// one post per member. SIGINT or SIGTERM says goodbye to everyone and
// shuts the server down.
//
//	go run ./examples/tcpchat -addr 127.0.0.1:12347
//	# then several: nc 127.0.0.1 12347   (/nick NAME, /who, /quit)
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/poe-go/poe/component/servertcp"
	"github.com/poe-go/poe/poe"
)

// room is the chat's state, shared by the connection sessions (they all
// run on the kernel's goroutine).
type room struct {
	members map[poe.SessionID]string // connection session -> nick
	server  *servertcp.Server
}

// broadcast posts "send" to every member but except (0: nobody).
func (r *room) broadcast(k *poe.Kernel, except poe.SessionID, line string) {
	for id := range r.members {
		if id != except {
			k.Post(id, "send", line)
		}
	}
}

func (r *room) connected(e *poe.Event) any {
	c := servertcp.ConnOf(e)
	nick := fmt.Sprintf("guest%d", e.Session.ID())
	r.members[e.Session.ID()] = nick
	c.Client.Put("Welcome, " + nick + "! /nick NAME, /who, /quit")
	r.broadcast(e.Kernel, e.Session.ID(), "* "+nick+" joined from "+c.RemoteIP)
	return nil
}

func (r *room) disconnected(e *poe.Event) any {
	id := e.Session.ID()
	if nick, ok := r.members[id]; ok {
		delete(r.members, id)
		r.broadcast(e.Kernel, 0, "* "+nick+" left")
	}
	return nil
}

func (r *room) input(e *poe.Event) any {
	c, id, k := servertcp.ConnOf(e), e.Session.ID(), e.Kernel
	line := strings.TrimSpace(e.String(poe.ARG0))
	nick := r.members[id]
	switch cmd, arg, _ := strings.Cut(line, " "); cmd {
	case "":
	case "/nick":
		arg = strings.TrimSpace(arg)
		if arg == "" || strings.ContainsAny(arg, " \t") {
			c.Client.Put("usage: /nick NAME")
			return nil
		}
		for _, other := range r.members {
			if other == arg {
				c.Client.Put("* " + arg + " is taken")
				return nil
			}
		}
		r.members[id] = arg
		r.broadcast(k, 0, "* "+nick+" is now "+arg)
	case "/who":
		var nicks []string
		for _, n := range r.members {
			nicks = append(nicks, n)
		}
		sort.Strings(nicks)
		c.Client.Put("* here: " + strings.Join(nicks, ", "))
	case "/quit":
		c.Client.Put("Bye!")
		k.Yield("shutdown") // the component closes once "Bye!" is sent
	default:
		r.broadcast(k, 0, "<"+nick+"> "+line)
	}
	return nil
}

// send is the extra state of each connection: a line from the room.
func send(e *poe.Event) any {
	if c := servertcp.ConnOf(e); c.Client != nil && !c.ShuttingDown {
		c.Client.Put(e.String(poe.ARG0))
	}
	return nil
}

// closing is the extra state the signal handler posts to each connection.
func closing(e *poe.Event) any {
	send(e)
	e.Kernel.Yield("shutdown")
	return nil
}

// serve runs the server until a signal ends it. ready, if set, gets the
// address listened on.
func serve(host string, port int, ready func(addr string)) error {
	k := poe.NewKernel(nil)
	r := &room{members: map[poe.SessionID]string{}}
	srv, err := servertcp.New(k, servertcp.Options{
		Address: host, Port: port, Alias: "chat",
		ClientConnected:    r.connected,
		ClientDisconnected: r.disconnected,
		ClientInput:        r.input,
		InlineStates:       map[string]poe.Handler{"send": send, "closing": closing},
	})
	if err != nil {
		return err
	}
	r.server = srv
	slog.Info("chat server listening", "addr", srv.LocalAddr())
	if ready != nil {
		ready(srv.LocalAddr())
	}
	// A session for the signals: the listener's states are the component's.
	k.Create(poe.Spec{Inline: map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			e.Kernel.Sig("INT", "stop")
			e.Kernel.Sig("TERM", "stop")
			e.Kernel.AliasSet("signals") // watchers alone do not keep a session
			return nil
		},
		"stop": func(e *poe.Event) any {
			slog.Info("shutting down", "signal", e.String(poe.ARG0))
			e.Kernel.SigHandled()
			for id := range r.members {
				e.Kernel.Post(id, "closing", "* the server is going down")
			}
			r.server.Shutdown()
			e.Kernel.Sig("INT", "")
			e.Kernel.Sig("TERM", "")
			e.Kernel.AliasRemove("signals")
			return nil
		},
	}})
	return k.Run()
}

func main() {
	addr := flag.String("addr", "127.0.0.1:12347", "address to listen on")
	flag.Parse()
	host, p, err := net.SplitHostPort(*addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tcpchat:", err)
		os.Exit(2)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		fmt.Fprintf(os.Stderr, "tcpchat: address %s: port %q is not a number\n", *addr, p)
		os.Exit(2)
	}
	if err := serve(host, port, nil); err != nil {
		fmt.Fprintln(os.Stderr, "tcpchat:", err)
		os.Exit(1)
	}
}
