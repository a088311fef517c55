package loop

import "golang.org/x/sys/unix"

// openWaker makes an eventfd, one descriptor for both ends.
func openWaker() (*waker, error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	return &waker{r: fd, w: fd}, nil
}
