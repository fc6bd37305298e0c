package events_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/events"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// seq is a test event: the n-th event of publisher p.
type seq struct{ p, n int }

// drain reads s until its channel closes or want events arrived.
func drain[T any](t *testing.T, s *events.Subscription[T], want int) []T {
	t.Helper()
	var got []T
	timeout := time.After(10 * time.Second)
	for len(got) < want {
		select {
		case v, ok := <-s.C():
			if !ok {
				return got
			}
			got = append(got, v)
		case <-timeout:
			t.Fatalf("received %d of %d events before the timeout", len(got), want)
		}
	}
	return got
}

func TestOrderingPerSubscriber(t *testing.T) {
	const publishers, perPublisher, subscribers = 4, 5000, 3
	b := events.New()
	defer b.Close()
	subs := make([]*events.Subscription[seq], subscribers)
	for i := range subs {
		subs[i] = events.Subscribe[seq](b, events.Buffer(64))
	}
	total := publishers * perPublisher

	// Consumers read concurrently with the publishers; the queues are
	// small, so the consumers fall behind at times and events are dropped.
	// A last event marks the end: DropOldest never drops the newest event.
	received := make([][]seq, subscribers)
	var consumers sync.WaitGroup
	for i, s := range subs {
		consumers.Go(func() {
			for v := range s.C() {
				if v.p < 0 {
					return
				}
				received[i] = append(received[i], v)
			}
		})
	}
	var pub sync.WaitGroup
	for p := range publishers {
		pub.Go(func() {
			for n := range perPublisher {
				b.Publish(seq{p, n})
			}
		})
	}
	pub.Wait()
	b.Publish(seq{-1, 0})
	consumers.Wait()

	for i, got := range received {
		last := map[int]int{}
		for _, v := range got {
			if v.p < 0 {
				continue
			}
			if prev, ok := last[v.p]; ok && v.n <= prev {
				t.Fatalf("subscriber %d: publisher %d's event %d arrived after its event %d", i, v.p, v.n, prev)
			}
			last[v.p] = v.n
		}
		if d := subs[i].Dropped(); uint64(len(got))+d != uint64(total) {
			t.Errorf("subscriber %d: received %d + dropped %d, want %d published", i, len(got), d, total)
		}
	}
}

func TestEverySubscriberSeesTheSameOrder(t *testing.T) {
	const publishers, perPublisher = 4, 2000
	b := events.New()
	defer b.Close()
	total := publishers * perPublisher
	a := events.Subscribe[seq](b, events.Buffer(total))
	c := events.Subscribe[any](b, events.Buffer(total))

	var pub sync.WaitGroup
	for p := range publishers {
		pub.Go(func() {
			for n := range perPublisher {
				b.Publish(seq{p, n})
			}
		})
	}
	pub.Wait()
	gotA := drain(t, a, total)
	gotC := drain(t, c, total)
	for i := range gotA {
		if gotC[i] != any(gotA[i]) {
			t.Fatalf("event %d: one subscriber got %v, another %v", i, gotA[i], gotC[i])
		}
	}
	if a.Dropped() != 0 || c.Dropped() != 0 {
		t.Fatalf("dropped %d and %d with room for every event", a.Dropped(), c.Dropped())
	}
}

func TestSlowSubscriberBlocksNoOne(t *testing.T) {
	const n, buffer = 10000, 8
	b := events.New()
	defer b.Close()
	slow := events.Subscribe[int](b, events.Buffer(buffer)) // never read while publishing
	fast := events.Subscribe[int](b, events.Buffer(16))

	fastGot := make(chan []int)
	go func() {
		var got []int
		for v := range fast.C() {
			got = append(got, v)
			if v == n-1 {
				break
			}
		}
		fastGot <- got
	}()
	published := make(chan struct{})
	go func() {
		for i := range n {
			b.Publish(i)
		}
		close(published)
	}()
	select {
	case <-published:
	case <-time.After(10 * time.Second):
		t.Fatal("Publish blocked on a subscriber that does not read")
	}

	got := <-fastGot
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("fast subscriber: %d after %d", got[i], got[i-1])
		}
	}
	if uint64(len(got))+fast.Dropped() != n {
		t.Errorf("fast subscriber: received %d + dropped %d, want %d", len(got), fast.Dropped(), n)
	}

	// DropOldest keeps the newest events, in order, and counts the rest.
	if d := slow.Dropped(); d != n-buffer {
		t.Errorf("slow subscriber dropped %d, want %d", d, n-buffer)
	}
	for want := n - buffer; want < n; want++ {
		if v := <-slow.C(); v != want {
			t.Fatalf("slow subscriber got %d, want %d", v, want)
		}
	}
	if err := slow.Err(); err != nil {
		t.Errorf("a DropOldest subscription stays open, Err = %v", err)
	}
}

func TestDisconnectOnOverflow(t *testing.T) {
	b := events.New()
	defer b.Close()
	s := events.Subscribe[int](b, events.Buffer(2), events.OnOverflow(events.Disconnect))
	other := events.Subscribe[int](b, events.Buffer(10))
	for i := range 5 {
		b.Publish(i)
	}
	// The queued events come first, then the channel is closed.
	var got []int
	for v := range s.C() {
		got = append(got, v)
	}
	if fmt.Sprint(got) != "[0 1]" {
		t.Errorf("got %v before the close, want [0 1]", got)
	}
	if err := s.Err(); !errors.Is(err, events.ErrOverflow) {
		t.Errorf("Err = %v, want ErrOverflow", err)
	}
	if hotreload.ErrorCode(s.Err()) != hotreload.CodeUnavailable {
		t.Errorf("code = %q", hotreload.ErrorCode(s.Err()))
	}
	if d := s.Dropped(); d != 1 {
		t.Errorf("Dropped = %d, want 1 (the event that did not fit)", d)
	}
	s.Close() // still fine after the bus closed it
	if err := s.Err(); !errors.Is(err, events.ErrOverflow) {
		t.Errorf("Close after a disconnect changed Err to %v", err)
	}
	if got := drain(t, other, 5); len(got) != 5 {
		t.Errorf("the other subscriber got %v", got)
	}
}

type stringer string

func (s stringer) String() string { return string(s) }

func TestTypeFiltering(t *testing.T) {
	b := events.New()
	defer b.Close()
	reloads := events.Subscribe[hotreload.ReloadEvent](b)
	configs := events.Subscribe[hotreload.ConfigReloadEvent](b)
	ptrs := events.Subscribe[*hotreload.ReloadEvent](b)
	stringers := events.Subscribe[fmt.Stringer](b)
	all := events.Subscribe[any](b)

	b.Publish(hotreload.ConfigReloadEvent{Target: "app"})
	b.Publish(hotreload.ReloadEvent{Outcome: hotreload.Outcome{Version: 7}})
	b.Publish(&hotreload.ReloadEvent{Outcome: hotreload.Outcome{Version: 8}})
	b.Publish(stringer("s"))
	b.Publish(nil) // ignored
	b.Publish(42)

	if got := drainQueued(reloads); len(got) != 1 || got[0].Version != 7 {
		t.Errorf("ReloadEvent subscriber got %+v", got)
	}
	if got := drainQueued(configs); len(got) != 1 || got[0].Target != "app" {
		t.Errorf("ConfigReloadEvent subscriber got %+v", got)
	}
	if got := drainQueued(ptrs); len(got) != 1 || got[0].Version != 8 {
		t.Errorf("*ReloadEvent subscriber got %+v", got)
	}
	if got := drainQueued(stringers); len(got) != 1 || got[0].String() != "s" {
		t.Errorf("fmt.Stringer subscriber got %+v", got)
	}
	if got := drainQueued(all); len(got) != 5 {
		t.Errorf("any subscriber got %d events, want 5: %+v", len(got), got)
	}
}

// drainQueued returns what is queued on s without waiting. Publish queues
// before it returns, so after the publishes everything is there.
func drainQueued[T any](s *events.Subscription[T]) []T {
	var got []T
	for {
		select {
		case v := <-s.C():
			got = append(got, v)
		default:
			return got
		}
	}
}

func TestSubscribeSeesOnlyLaterEvents(t *testing.T) {
	b := events.New()
	defer b.Close()
	b.Publish(1)
	s := events.Subscribe[int](b)
	b.Publish(2)
	if got := drainQueued(s); fmt.Sprint(got) != "[2]" {
		t.Errorf("got %v, want [2]", got)
	}
}

func TestClose(t *testing.T) {
	t.Run("Subscription", func(t *testing.T) {
		b := events.New()
		defer b.Close()
		s := events.Subscribe[int](b)
		b.Publish(1)
		b.Publish(2)
		s.Close()
		s.Close() // idempotent
		if v, ok := <-s.C(); ok {
			t.Errorf("received %d after Close; queued events must be discarded", v)
		}
		if err := s.Err(); !errors.Is(err, events.ErrClosed) {
			t.Errorf("Err = %v, want ErrClosed", err)
		}
		b.Publish(3) // no panic: the bus no longer holds s
	})
	t.Run("Bus", func(t *testing.T) {
		b := events.New()
		s := events.Subscribe[int](b)
		done := make(chan struct{})
		go func() { // a consumer ranging over C stops when the bus closes
			for range s.C() {
			}
			close(done)
		}()
		b.Publish(1)
		b.Close()
		b.Close() // idempotent
		<-done
		if err := s.Err(); !errors.Is(err, events.ErrClosed) {
			t.Errorf("Err = %v, want ErrClosed", err)
		}
		b.Publish(2) // ignored
		late := events.Subscribe[int](b)
		if _, ok := <-late.C(); ok {
			t.Error("a subscription made after Bus.Close is open")
		}
		if !errors.Is(late.Err(), events.ErrClosed) {
			t.Errorf("late Err = %v, want ErrClosed", late.Err())
		}
		s.Close() // after Bus.Close: fine
	})
}

// TestConcurrentSubscribeClosePublish churns subscriptions while events flow;
// run with -race it checks the locking, and it must neither panic on a send
// to a closed channel nor deadlock.
func TestConcurrentSubscribeClosePublish(t *testing.T) {
	b := events.New()
	stop := make(chan struct{})
	var publishers, subscribers sync.WaitGroup
	for range 2 {
		publishers.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
					b.Publish(i)
				}
			}
		})
	}
	for range 4 {
		subscribers.Go(func() {
			for i := range 50 {
				opts := []events.Option{events.Buffer(1 + i%4)}
				if i%2 == 0 {
					opts = append(opts, events.OnOverflow(events.Disconnect))
				}
				s := events.Subscribe[int](b, opts...)
				<-s.C()
				s.Close()
			}
		})
	}
	subscribers.Wait()
	close(stop)
	publishers.Wait()
	b.Close()
}

func ExampleSubscribe() {
	bus := events.New()
	defer bus.Close()
	reloads := events.Subscribe[hotreload.ReloadEvent](bus, events.Buffer(16))
	defer reloads.Close()

	bus.Publish(hotreload.ConfigReloadEvent{Target: "app"}) // not a ReloadEvent: filtered out
	bus.Publish(hotreload.ReloadEvent{Outcome: hotreload.Outcome{Result: hotreload.Committed, Version: 3}})

	ev := <-reloads.C()
	fmt.Println(ev.Result, ev.Version, reloads.Dropped())
	// Output: committed 3 0
}

func BenchmarkPublish(b *testing.B) {
	for _, n := range []int{1, 10} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			bus := events.New()
			defer bus.Close()
			for range n {
				events.Subscribe[hotreload.ReloadEvent](bus, events.Buffer(1024))
			}
			ev := hotreload.ReloadEvent{Outcome: hotreload.Outcome{Result: hotreload.Committed}}
			b.ReportAllocs()
			for b.Loop() {
				bus.Publish(ev) // queues stay full: every publish drops the oldest
			}
		})
	}
}

// TestEach: Each hands over the events in order until fn says stop, and
// returns when its context ends.
func TestEach(t *testing.T) {
	b := events.New()
	sub := events.Subscribe[int](b)
	defer sub.Close()
	for i := 1; i <= 3; i++ {
		b.Publish(i)
	}
	var got []int
	sub.Each(context.Background(), func(n int) bool { got = append(got, n); return n < 2 })
	if !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("Each saw %v, want [1 2]", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sub2 := events.Subscribe[int](b)
	defer sub2.Close()
	sub2.Each(ctx, func(int) bool { t.Error("an event after the context ended"); return true })
}
