package wheel

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// runCmd is what a Run child executes.
type runCmd struct {
	name string // for messages
	path string
	argv []string
	fn   string // a Func's name, else ""
}

// command resolves o.Program and o.ProgramArgs.
func (o *RunOptions) command() (runCmd, error) {
	switch p := o.Program.(type) {
	case []string:
		if len(p) == 0 {
			return runCmd{}, errors.New("wheel: Run: empty Program")
		}
		c := runCmd{name: p[0], path: p[0], argv: append(append([]string(nil), p...), o.ProgramArgs...)}
		if !strings.Contains(c.path, "/") {
			var err error
			if c.path, err = exec.LookPath(c.path); err != nil {
				return runCmd{}, err
			}
		}
		return c, nil
	case string:
		cmd := p
		if len(o.ProgramArgs) > 0 {
			cmd += " " + strings.Join(o.ProgramArgs, " ")
		}
		return runCmd{name: cmd, path: "/bin/sh", argv: []string{"/bin/sh", "-c", cmd}}, nil
	case Func:
		if lookupProgram(string(p)) == nil {
			return runCmd{}, fmt.Errorf("wheel: Run: program %q is not registered (RegisterProgram)", string(p))
		}
		self, err := selfExe()
		if err != nil {
			return runCmd{}, fmt.Errorf("wheel: Run: program %q: this executable: %w", string(p), err)
		}
		argv := append([]string{os.Args[0]}, o.ProgramArgs...)
		return runCmd{name: string(p), path: self, argv: argv, fn: string(p)}, nil
	}
	return runCmd{}, fmt.Errorf("wheel: Run: Program must be []string, string or wheel.Func, not %T", o.Program)
}

// env is the child's environment: base, and for a Func the markers that
// RegisterProgram and RunChildMain look for (any inherited ones removed).
func (c runCmd) env(base []string, closeOnCall bool) []string {
	if c.fn == "" {
		return base
	}
	env := make([]string, 0, len(base)+2)
	for _, kv := range base {
		if !strings.HasPrefix(kv, envProgram+"=") && !strings.HasPrefix(kv, envCloseOnCall+"=") {
			env = append(env, kv)
		}
	}
	env = append(env, envProgram+"="+c.fn)
	if closeOnCall {
		env = append(env, envCloseOnCall+"=1")
	}
	return env
}

// startChildRenice forks and execs, then gives the child this process's
// nice value plus priority: how startChild applies a Priority outside
// Linux (built everywhere for its test). The child runs, and may exec, at
// this process's priority for a moment first. If it cannot be given the
// new one (a negative delta needs privilege) it is killed and reaped, and
// the error returned, as on Linux where it is never started.
func startChildRenice(path string, argv []string, attr *syscall.ProcAttr, priority int) (int, error) {
	pid, err := syscall.ForkExec(path, argv, attr)
	if err != nil || priority == 0 {
		return pid, err
	}
	nice, err := processNice()
	if err == nil {
		err = unix.Setpriority(unix.PRIO_PROCESS, pid, nice+priority)
	}
	if err != nil && !errors.Is(err, unix.ESRCH) { // ESRCH: already gone
		unix.Kill(pid, unix.SIGKILL)
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, 0, nil)
		return -1, fmt.Errorf("priority %+d: %w", priority, err)
	}
	return pid, nil
}

// runCredential resolves User and Group into the child's credential (nil
// when nothing changes).
func runCredential(userName, groupName string) (*syscall.Credential, error) {
	if userName == "" && groupName == "" {
		return nil, nil
	}
	uid, gid := os.Geteuid(), os.Getegid()
	var err error
	if userName != "" {
		if uid, err = lookupID(userName, false); err != nil {
			return nil, err
		}
	}
	if groupName != "" {
		if gid, err = lookupID(groupName, true); err != nil {
			return nil, err
		}
	}
	return checkCredential(uid, gid, os.Geteuid(), os.Getegid())
}

// checkCredential decides for a process running as euid/egid: root gets
// the credential (supplementary groups cleared: Groups nil), anyone else
// an EPERM error unless nothing changes.
func checkCredential(uid, gid, euid, egid int) (*syscall.Credential, error) {
	if euid == 0 {
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	if uid == euid && gid == egid {
		return nil, nil
	}
	return nil, fmt.Errorf("wheel: Run: running the child as uid %d gid %d needs root; this process is uid %d gid %d: %w",
		uid, gid, euid, egid, syscall.EPERM)
}

// lookupID takes a numeric ID or a user (group) name.
func lookupID(s string, group bool) (int, error) {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return int(n), nil
	}
	var id string
	if group {
		g, err := user.LookupGroup(s)
		if err != nil {
			return -1, fmt.Errorf("wheel: Run: Group: %w", err)
		}
		id = g.Gid
	} else {
		u, err := user.Lookup(s)
		if err != nil {
			return -1, fmt.Errorf("wheel: Run: User: %w", err)
		}
		id = u.Uid
	}
	n, err := strconv.ParseUint(id, 10, 32)
	if err != nil {
		return -1, fmt.Errorf("wheel: Run: %q has a non-numeric ID %q", s, id)
	}
	return int(n), nil
}
