package driver

// The driver reads and writes raw Unix descriptors. On Windows, importing
// the reactor makes the build stop at its one message saying so.
import _ "github.com/poe-go/poe/loop"
