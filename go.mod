module github.com/poe-go/poe

go 1.26.8

require (
	github.com/google/go-cmp v0.7.0
	github.com/panjf2000/gnet/v2 v2.9.7
	golang.org/x/sys v0.49.0
)

require (
	go.uber.org/multierr v1.11.0 // indirect
	go.uber.org/zap v1.27.0 // indirect
	gopkg.in/natefinch/lumberjack.v2 v2.2.1 // indirect
)
