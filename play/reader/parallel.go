package reader

import (
	"io"
	"sync"

	"github.com/vigil-rec/vigil/rec/tlog"
)

// The pipeline of Options.Workers: one goroutine reads lines into batches,
// the workers decode the batches' lines, and the Reader takes the batches
// in their order. A batch is reused once the Reader has gone past its last
// message, which is when its messages stop being valid.

// Batch bounds: enough lines to make handing a batch over cheap, few
// enough batches in flight to bound memory.
const (
	batchBytes = 256 << 10
	batchLines = 1024
)

type batch struct {
	buf   []byte // the lines' text
	lens  []int  // the length of each line's text in buf
	items []item
	msgs  []Message
	decs  []tlog.Decoder // one per line: a message's slices alias its decoder
	done  chan struct{}
}

type pipeline struct {
	lines   *lineReader // owned by the reading goroutine
	free    chan *batch
	work    chan *batch
	ordered chan *batch
	quit    chan struct{}
	once    sync.Once
	cur     *batch // the batch being taken
	i       int    // its next item
}

func startPipeline(lines *lineReader, workers int) *pipeline {
	n := 2*workers + 1
	p := &pipeline{lines: lines, free: make(chan *batch, n), work: make(chan *batch, n),
		ordered: make(chan *batch, n), quit: make(chan struct{})}
	for range n {
		p.free <- &batch{}
	}
	go p.read()
	for range workers {
		go func() {
			for b := range p.work {
				for i := range b.items {
					b.items[i].decode(&b.decs[i])
				}
				close(b.done)
			}
		}()
	}
	return p
}

// read fills batches with lines until the input ends, fails or the
// pipeline stops.
func (p *pipeline) read() {
	defer close(p.ordered)
	defer close(p.work)
	for end := false; !end; {
		var b *batch
		select {
		case b = <-p.free:
		case <-p.quit:
			return
		}
		b.buf, b.items, b.lens = b.buf[:0], b.items[:0], b.lens[:0]
		var it item
		for len(b.buf) < batchBytes && len(b.items) < batchLines {
			if !p.lines.read(&it) {
				end = true
				break
			}
			b.items = append(b.items, it)
			b.lens = append(b.lens, len(it.text))
			b.buf = append(b.buf, it.text...)
			if it.err != nil {
				if _, skipped := it.err.(*tlog.TooLongError); !skipped {
					end = true // a read error ends the input
					break
				}
			}
		}
		if len(b.items) == 0 {
			return
		}
		// Point the items at their text and messages only now: buf and
		// the slices may have moved.
		if len(b.msgs) < len(b.items) {
			b.msgs = make([]Message, batchLines)
			b.decs = make([]tlog.Decoder, batchLines)
		}
		start := 0
		for i := range b.items {
			it := &b.items[i]
			it.text, it.msg = b.buf[start:start+b.lens[i]:start+b.lens[i]], &b.msgs[i]
			start += b.lens[i]
		}
		b.done = make(chan struct{})
		select {
		case p.work <- b:
		case <-p.quit:
			return
		}
		p.ordered <- b // buffered for every batch: never blocks
	}
}

// next returns the next item; io.EOF at the end of the input.
func (p *pipeline) next() (*item, error) {
	for p.cur == nil || p.i == len(p.cur.items) {
		if p.cur != nil {
			p.free <- p.cur
			p.cur = nil
		}
		b, ok := <-p.ordered
		if !ok {
			return nil, io.EOF
		}
		<-b.done
		p.cur, p.i = b, 0
	}
	p.i++
	return &p.cur.items[p.i-1], nil
}

// stop ends the goroutines.
func (p *pipeline) stop() { p.once.Do(func() { close(p.quit) }) }
