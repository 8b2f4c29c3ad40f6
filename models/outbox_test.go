package models_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/models"
)

// createOutboxEntries writes n unsent notifications, one per failed upload.
func createOutboxEntries(n int) []models.OutboxEntry {
	GinkgoHelper()
	entries := make([]models.OutboxEntry, 0, n)
	for range n {
		u := createUpload()
		setState(u.ID, models.StateFailed)
		e := models.OutboxEntry{
			UploadID:  u.ID,
			TaskType:  notificationTask,
			Payload:   models.JSON(fmt.Sprintf(`{"upload_id": %d}`, u.ID)),
			CreatedAt: now,
		}
		Expect(gdb.Create(&e).Error).To(Succeed())
		entries = append(entries, e)
	}
	return entries
}

func unsentCount() int64 {
	GinkgoHelper()
	n, err := models.UnsentOutboxCount(context.Background(), gdb)
	Expect(err).NotTo(HaveOccurred())
	return n
}

var _ = Describe("RelayOutbox", func() {
	var (
		ctx     context.Context
		entries []models.OutboxEntry
		sentAt  time.Time
	)

	BeforeEach(func() {
		ctx = context.Background()
		entries = createOutboxEntries(3)
		sentAt = now.Add(time.Minute)
	})

	Context("when send succeeds", func() {
		It("hands every entry over oldest first and marks it enqueued", func() {
			var handed []models.OutboxEntry
			sent, failed, err := models.RelayOutbox(ctx, gdb, 10, sentAt, func(_ context.Context, e models.OutboxEntry) error {
				handed = append(handed, e)
				return nil
			})
			Expect(err).NotTo(HaveOccurred())

			Expect(sent).To(Equal(3))
			Expect(failed).To(BeZero())
			Expect(handed).To(HaveLen(3))
			for i, e := range handed {
				Expect(e.ID).To(Equal(entries[i].ID))
				Expect(e.TaskType).To(Equal(notificationTask))
				Expect(models.JSONEqual(e.Payload, entries[i].Payload)).To(BeTrue())
			}
			for _, e := range outboxEntries() {
				Expect(e.EnqueuedAt).To(HaveValue(BeTemporally("==", sentAt)))
				Expect(e.Attempts).To(Equal(1))
			}
			Expect(unsentCount()).To(BeZero())
		})

		It("hands nothing over twice", func() {
			_, _, err := models.RelayOutbox(ctx, gdb, 10, sentAt, func(context.Context, models.OutboxEntry) error { return nil })
			Expect(err).NotTo(HaveOccurred())

			sent, failed, err := models.RelayOutbox(ctx, gdb, 10, sentAt, func(context.Context, models.OutboxEntry) error {
				return errors.New("send called for an entry already sent")
			})

			Expect(err).NotTo(HaveOccurred())
			Expect(sent).To(BeZero())
			Expect(failed).To(BeZero())
		})

		It("hands over at most limit entries", func() {
			sent, _, err := models.RelayOutbox(ctx, gdb, 2, sentAt, func(context.Context, models.OutboxEntry) error { return nil })

			Expect(err).NotTo(HaveOccurred())
			Expect(sent).To(Equal(2))
			Expect(unsentCount()).To(Equal(int64(1)))
		})
	})

	Context("when send fails for an entry", func() {
		var failing int64

		BeforeEach(func() {
			failing = entries[1].ID
		})

		relay := func() (int, int) {
			GinkgoHelper()
			sent, failed, err := models.RelayOutbox(ctx, gdb, 10, sentAt, func(_ context.Context, e models.OutboxEntry) error {
				if e.ID == failing {
					return errors.New("redis: connection refused")
				}
				return nil
			})
			Expect(err).NotTo(HaveOccurred())
			return sent, failed
		}

		It("keeps it unsent, counts the attempt and records the error", func() {
			sent, failed := relay()

			Expect(sent).To(Equal(2))
			Expect(failed).To(Equal(1))
			var e models.OutboxEntry
			Expect(gdb.Take(&e, failing).Error).To(Succeed())
			Expect(e.EnqueuedAt).To(BeNil())
			Expect(e.Attempts).To(Equal(1))
			Expect(e.LastError).To(HaveValue(Equal("redis: connection refused")))
			Expect(unsentCount()).To(Equal(int64(1)))
		})

		It("tries it again on the next relay", func() {
			relay()
			_, failed := relay()

			Expect(failed).To(Equal(1))
			var e models.OutboxEntry
			Expect(gdb.Take(&e, failing).Error).To(Succeed())
			Expect(e.Attempts).To(Equal(2))
		})
	})

	Context("when two relays run at once", func() {
		BeforeEach(func() {
			entries = append(entries, createOutboxEntries(37)...)
		})

		It("never hands the same entry to send twice", func() {
			var (
				mu     sync.Mutex
				handed = map[int64]int{}
				// Both relays' first sends wait for each other: each relay
				// then holds its locked rows while the other picks its own.
				arrived  sync.WaitGroup
				together = make(chan struct{})
			)
			arrived.Add(2)
			go func() {
				arrived.Wait()
				close(together)
			}()
			relay := func(first *sync.Once) func(context.Context, models.OutboxEntry) error {
				return func(_ context.Context, e models.OutboxEntry) error {
					first.Do(arrived.Done)
					select {
					case <-together:
					case <-time.After(10 * time.Second):
						return errors.New("the other relay never got rows of its own: it waited on this one's locks")
					}
					mu.Lock()
					defer mu.Unlock()
					handed[e.ID]++
					return nil
				}
			}

			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i := range 2 {
				send := relay(&sync.Once{})
				wg.Go(func() {
					for {
						sent, failed, err := models.RelayOutbox(ctx, gdb, 5, sentAt, send)
						if err != nil || failed > 0 {
							errs[i] = fmt.Errorf("relay %d: sent %d, failed %d: %w", i, sent, failed, err)
							return
						}
						if sent == 0 {
							return
						}
					}
				})
			}
			wg.Wait()

			Expect(errs).To(HaveEach(BeNil()))
			Expect(handed).To(HaveLen(len(entries)))
			for id, n := range handed {
				Expect(n).To(Equal(1), "entry %d was handed over %d times", id, n)
			}
			Expect(unsentCount()).To(BeZero())
		})
	})
})

var _ = Describe("ReadOutbox", func() {
	It("counts sent, unsent and failing entries, and lists the unsent oldest first up to the limit", func(ctx SpecContext) {
		entries := createOutboxEntries(4)
		// The first is handed over; the second fails once.
		_, _, err := models.RelayOutbox(ctx, gdb, 1, now, func(context.Context, models.OutboxEntry) error { return nil })
		Expect(err).NotTo(HaveOccurred())
		_, failed, err := models.RelayOutbox(ctx, gdb, 1, now, func(context.Context, models.OutboxEntry) error { return errors.New("redis down") })
		Expect(err).NotTo(HaveOccurred())
		Expect(failed).To(Equal(1))

		s, err := models.ReadOutbox(ctx, gdb, 2)
		Expect(err).NotTo(HaveOccurred())

		Expect(s.Sent).To(BeEquivalentTo(1))
		Expect(s.Unsent).To(BeEquivalentTo(3))
		Expect(s.Failing).To(BeEquivalentTo(1))
		Expect(*s.OldestUnsent).To(BeTemporally("==", now))
		Expect(s.Entries).To(HaveLen(2))
		Expect([]int64{s.Entries[0].ID, s.Entries[1].ID}).To(Equal([]int64{entries[1].ID, entries[2].ID}))
		Expect(*s.Entries[0].LastError).To(Equal("redis down"))
	})

	It("reads an empty outbox as zeros without a date", func(ctx SpecContext) {
		s, err := models.ReadOutbox(ctx, gdb, 10)
		Expect(err).NotTo(HaveOccurred())

		Expect(s).To(Equal(models.OutboxStatus{}))
	})
})
