package pull

import (
	"hash/maphash"
	"sync"
)

// defaultWorkers is how many users a round applies at once. The SQLite
// store commits concurrent writes together (group commit), so a few
// writers in flight make a first pull much faster than one (and a
// MongoDB store, a few milliseconds a write, gains even more).
const defaultWorkers = 32

func (e *Engine) workers() int { return defaultWorkers }

// pool runs jobs on a fixed set of workers, each job on the worker its key
// hashes to: jobs of one key run in submission order.
type pool struct {
	seed maphash.Seed
	jobs []chan func() error
	wg   sync.WaitGroup

	mu  sync.Mutex
	err error
}

func newPool(n int) *pool {
	p := &pool{seed: maphash.MakeSeed(), jobs: make([]chan func() error, n)}
	for i := range p.jobs {
		ch := make(chan func() error, 64)
		p.jobs[i] = ch
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for job := range ch {
				if p.failed() != nil {
					continue // drain: the round is aborted
				}
				if err := job(); err != nil {
					p.fail(err)
				}
			}
		}()
	}
	return p
}

// submit queues job for key's worker; it returns the first error of any
// job instead once there is one.
func (p *pool) submit(key string, job func() error) error {
	if err := p.failed(); err != nil {
		return err
	}
	p.jobs[maphash.String(p.seed, key)%uint64(len(p.jobs))] <- job
	return nil
}

// close waits for the queued jobs and returns the first error.
func (p *pool) close() error {
	for _, ch := range p.jobs {
		close(ch)
	}
	p.wg.Wait()
	return p.failed()
}

func (p *pool) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

func (p *pool) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		p.err = err
	}
}
