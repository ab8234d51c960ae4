package wire

import (
	"testing"

	"google.golang.org/grpc/mem"
)

// BenchmarkPool compares a Get and Put of a batch-sized buffer (a ClassifyBatchRequest of 1000
// news paragraphs is a few hundred kilobytes) from UnclearedPool and from gRPC's default pool,
// which clears the buffer's whole capacity on every Get.
func BenchmarkPool(b *testing.B) {
	const size = 256 << 10
	b.Run("UnclearedPool", func(b *testing.B) {
		p := new(UnclearedPool)
		b.SetBytes(size)
		for b.Loop() {
			buf := p.Get(size)
			(*buf)[0] = 1
			p.Put(buf)
		}
	})
	b.Run("grpc-default", func(b *testing.B) {
		p := mem.DefaultBufferPool()
		b.SetBytes(size)
		for b.Loop() {
			buf := p.Get(size)
			(*buf)[0] = 1
			p.Put(buf)
		}
	})
}
