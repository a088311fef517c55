package protocol

import (
	"strconv"
	"strings"
)

// LineTerminator ends every line a negotiator returns. The driver writes
// each line and its terminator in one write: a Perl peer that reads "\r"
// and "\n" separately sees an extra empty line and may answer NOT.
const LineTerminator = "\r\n"

// isHelloIKCn matches /^HELLO IKC\d$/.
func isHelloIKCn(line string) bool {
	return len(line) == 10 && strings.HasPrefix(line, "HELLO IKC") && line[9] >= '0' && line[9] <= '9'
}

// parseIAM matches /^IAM\s+([-:.\w]+)$/.
func parseIAM(line string) (string, bool) {
	if len(line) < 5 || !strings.HasPrefix(line, "IAM") || !isSpace(line[3]) {
		return "", false
	}
	name := strings.TrimLeft(line[3:], " \t\n\r\f\v")
	return name, ValidName(name)
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// ValidName reports whether s can be announced as a kernel name: it
// matches [-:.\w]+ (ASCII: negotiation lines are bytes).
func ValidName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(isWordByte(c) || c == '-' || c == ':' || c == '.') {
			return false
		}
	}
	return true
}

// validPackage matches [-:\w]+, the FREEZER package syntax.
func validPackage(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(isWordByte(c) || c == '-' || c == ':') {
			return false
		}
	}
	return true
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// TCPName is the socket name a TCP end announces (ikc-protocol.md §4.3):
// "<IPv4>:<port>" of this end of the connection.
func TCPName(ip string, port int) string { return ip + ":" + strconv.Itoa(port) }

// UnixName is the name a Unix-socket server announces: "unix:" and the
// path with every run of characters outside [-:.A-Za-z0-9_] replaced by
// one "_" ("sock/ikc server.sock" -> "unix:sock_ikc_server.sock").
func UnixName(path string) string {
	var b strings.Builder
	b.WriteString("unix:")
	run := false
	for i := 0; i < len(path); i++ {
		c := path[i]
		if isWordByte(c) || c == '-' || c == ':' || c == '.' {
			b.WriteByte(c)
			run = false
		} else if !run {
			b.WriteByte('_')
			run = true
		}
	}
	return b.String()
}

// UnixClientName is the name a Unix-socket client announces:
// UnixName(path) followed by ":<pid>-<fd>" ("unix:relay.sock:11394-3").
func UnixClientName(path string, pid, fd int) string {
	return UnixName(path) + ":" + strconv.Itoa(pid) + "-" + strconv.Itoa(fd)
}
