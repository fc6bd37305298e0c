package hotreload

import "context"

// Gate is the health gate: after every target of a transaction is applied,
// the engine calls Watch, commits on nil and rolls back on an error whose
// message is the reason. The health package provides the real one; with no
// gate the engine commits at once.
type Gate interface {
	Watch(ctx context.Context, tx Transaction) error
}

// Transaction describes the transaction being gated.
type Transaction struct {
	Version uint64
	Source  Source
	Targets []string
}
