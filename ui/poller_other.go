//go:build !linux

package ui

import "errors"

// poller is epoll's; elsewhere each client has a reader goroutine.
type poller struct{}

func newPoller() (*poller, error) { return nil, errors.New("no epoll on this system") }

func (p *poller) add(*client) error { return errors.New("no epoll on this system") }

func (p *poller) remove(c *client) { c.conn.Close() }

func (p *poller) close() {}
