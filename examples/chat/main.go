// Command chat is a multi-user chat server in the POE style: a "chat"
// session (found by its alias) keeps the room; every connection is a
// session of its own that posts what its user says to the room, and the
// room posts each line to every member. A user who types "/nick NAME"
// takes the alias "user:NAME", so "/msg NAME text" can post to that
// session directly.
//
//	go run ./examples/chat -addr 127.0.0.1:12346
//	# then several: nc 127.0.0.1 12346
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

	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel"
)

// room is the heap of the "chat" session.
type room struct {
	host    string
	port    int
	ready   func(addr string)
	factory *wheel.SocketFactory
	members map[poe.SessionID]string // session -> nick
	err     error                    // why it could not start
}

func (r *room) Start(e *poe.Event) any {
	e.Kernel.AliasSet("chat")
	e.Kernel.Sig("INT", "shutdown")
	e.Kernel.Sig("TERM", "shutdown")
	var err error
	r.factory, err = wheel.NewSocketFactory(e.Kernel, wheel.SocketFactoryOptions{
		BindAddress: r.host, BindPort: r.port, Reuse: true,
		SuccessEvent: "accepted", FailureEvent: "failed",
	})
	if err != nil {
		r.err = err
		r.stop(e.Kernel)
		return nil
	}
	addr := r.factory.LocalAddr()
	slog.Info("chat server listening", "addr", addr)
	if r.ready != nil {
		r.ready(addr)
	}
	return nil
}

func (r *room) Accepted(e *poe.Event) any {
	e.Kernel.Create(poe.Spec{
		Objects: []poe.States{poe.Object(&user{}, "_start", "input", "error", "send", "_stop")},
		Args:    []any{e.Arg(poe.ARG0)},
	})
	return nil
}

// Failed is an accept error (EMFILE...): the wheel backs off and goes on.
func (r *room) Failed(e *poe.Event) any {
	slog.Error("accept", "operation", e.String(poe.ARG0), "error", e.String(poe.ARG2))
	return nil
}

// Join (SENDER, nick): a new member.
func (r *room) Join(e *poe.Event) any {
	r.members[e.Sender.ID()] = e.String(poe.ARG0)
	r.broadcast(e.Kernel, "* "+e.String(poe.ARG0)+" joined")
	return nil
}

// Say (SENDER, text): a line for everyone.
func (r *room) Say(e *poe.Event) any {
	r.broadcast(e.Kernel, "<"+r.members[e.Sender.ID()]+"> "+e.String(poe.ARG0))
	return nil
}

// Rename (SENDER, new nick).
func (r *room) Rename(e *poe.Event) any {
	id := e.Sender.ID()
	old := r.members[id]
	r.members[id] = e.String(poe.ARG0)
	r.broadcast(e.Kernel, "* "+old+" is now "+e.String(poe.ARG0))
	return nil
}

// Leave (SENDER): a member left.
func (r *room) Leave(e *poe.Event) any {
	nick, ok := r.members[e.Sender.ID()]
	if ok {
		delete(r.members, e.Sender.ID())
		r.broadcast(e.Kernel, "* "+nick+" left")
	}
	return nil
}

// Who answers with the sorted member list (used with Call).
func (r *room) Who(e *poe.Event) any {
	var nicks []string
	for _, n := range r.members {
		nicks = append(nicks, n)
	}
	sort.Strings(nicks)
	return strings.Join(nicks, ", ")
}

func (r *room) broadcast(k *poe.Kernel, line string) {
	for id := range r.members {
		k.Post(id, "send", line)
	}
}

func (r *room) Shutdown(e *poe.Event) any {
	e.Kernel.SigHandled()
	r.broadcast(e.Kernel, "* server shutting down")
	for id := range r.members {
		e.Kernel.Post(id, "send", nil) // nil: close after sending
	}
	r.stop(e.Kernel)
	return nil
}

// stop closes the listener and drops the alias and signal watchers.
func (r *room) stop(k *poe.Kernel) {
	if r.factory != nil {
		r.factory.Close()
	}
	k.AliasRemove("chat")
	k.Sig("INT", "")
	k.Sig("TERM", "")
}

// user is the heap of one connection's session.
type user struct {
	rw   *wheel.ReadWrite
	nick string
}

func (u *user) Start(e *poe.Event) any {
	var err error
	u.rw, err = wheel.NewReadWrite(e.Kernel, wheel.ReadWriteOptions{
		Handle: e.Arg(poe.ARG0), InputEvent: "input", ErrorEvent: "error",
	})
	if err != nil {
		slog.Error("wheel", "err", err)
		return nil
	}
	u.nick = fmt.Sprintf("guest%d", e.Session.ID())
	u.rw.Put("welcome, " + u.nick + "; /nick NAME, /msg NAME TEXT, /who, /quit")
	e.Kernel.Post("chat", "join", u.nick)
	return nil
}

func (u *user) Input(e *poe.Event) any {
	line := e.String(poe.ARG0)
	cmd, rest, _ := strings.Cut(line, " ")
	switch cmd {
	case "/nick":
		if rest == "" || strings.ContainsAny(rest, " /") {
			u.rw.Put("usage: /nick NAME")
			break
		}
		if err := e.Kernel.AliasSet("user:" + rest); err != nil {
			u.rw.Put("that nick is taken")
			break
		}
		e.Kernel.AliasRemove("user:" + u.nick)
		u.nick = rest
		e.Kernel.Post("chat", "rename", rest)
	case "/msg":
		to, text, _ := strings.Cut(rest, " ")
		if err := e.Kernel.Post("user:"+to, "send", "*"+u.nick+"* "+text); err != nil {
			u.rw.Put("no such user: " + to)
		}
	case "/who":
		who, _ := e.Kernel.Call("chat", "who")
		u.rw.Put("here: " + who.(string))
	case "/quit":
		u.leave(e)
	default:
		e.Kernel.Post("chat", "say", line)
	}
	return nil
}

// Send puts a line to this user; nil closes the connection.
func (u *user) Send(e *poe.Event) any {
	if u.rw == nil {
		return nil
	}
	if e.Arg(poe.ARG0) == nil {
		u.leave(e)
		return nil
	}
	u.rw.Put(e.String(poe.ARG0))
	return nil
}

func (u *user) Error(e *poe.Event) any {
	u.leave(e)
	return nil
}

// leave closes the wheel (after flushing what is queued) and drops the
// alias: with nothing left, the session ends.
func (u *user) leave(e *poe.Event) {
	if u.rw == nil {
		return
	}
	u.rw.Flush()
	u.rw.Close()
	u.rw = nil
	e.Kernel.AliasRemove("user:" + u.nick)
	e.Kernel.Post("chat", "leave")
}

func (u *user) Stop(e *poe.Event) any { return nil }

// serve runs the chat server until it is shut down. It returns the
// listen error if it could not start.
func serve(host string, port int, ready func(addr string)) error {
	k := poe.NewKernel(nil)
	r := &room{host: host, port: port, ready: ready, members: map[poe.SessionID]string{}}
	if _, err := k.Create(poe.Spec{Objects: []poe.States{poe.Object(r,
		"_start", "accepted", "failed", "join", "say", "rename", "leave", "who", "shutdown")}}); err != nil {
		return err
	}
	if err := k.Run(); err != nil {
		return err
	}
	return r.err
}

// splitAddr splits "host:port"; the port must be a number (its range is
// the wheel's to check).
func splitAddr(s string) (string, int, error) {
	host, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("address %s: port %q is not a number", s, p)
	}
	return host, port, nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:12346", "address to listen on")
	flag.Parse()
	host, port, err := splitAddr(*addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(2)
	}
	if err := serve(host, port, nil); err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(1)
	}
}
