package poe

import (
	"strings"
	"testing"
	"time"
)

// A handler run by a timer that panics raises DIE in its session, as a
// posted event's does (POE traps every dispatch); it used to stop the
// whole kernel with the panic.
func TestTimerHandlerPanicRaisesDIE(t *testing.T) {
	for _, how := range []string{"Delay", "Alarm"} {
		t.Run(how, func(t *testing.T) {
			var log cxLog
			k := NewKernel(nil)
			_, err := k.Create(Spec{Inline: map[string]Handler{
				"_start": func(e *Event) any {
					cxMust(t, e.Kernel.Sig("DIE", "caught"))
					if how == "Delay" {
						cxMust(t, e.Kernel.Delay("boom", time.Millisecond))
					} else {
						cxMust(t, e.Kernel.Alarm("boom", time.Now().Add(time.Millisecond)))
					}
					return nil
				},
				"boom": func(e *Event) any { panic("timer went off badly") },
				"caught": func(e *Event) any {
					info := e.Arg(ARG1).(*DieInfo)
					log.add("caught event=%s from_state=%s msg=%v", info.Event, info.FromState,
						strings.Contains(info.Err.Error(), "timer went off badly"))
					e.Kernel.SigHandled()
					cxMust(t, e.Kernel.Sig("DIE", ""))
					return nil
				},
				"_stop": func(e *Event) any { log.add("stop"); return nil },
			}})
			cxMust(t, err)
			if err := cxRun(t, k, 5*time.Second); err != nil {
				t.Fatalf("Run = %v, want nil (DIE handled)", err)
			}
			cxDiff(t, log.lines, []string{"caught event=boom from_state=_start msg=true", "stop"})
		})
	}
}
