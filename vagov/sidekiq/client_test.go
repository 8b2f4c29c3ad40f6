package sidekiq_test

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/vagov/sidekiq"
)

var _ = Describe("Client", func() {
	var (
		ctx    context.Context
		now    time.Time
		queue  string
		prefix string
		client *sidekiq.Client
	)

	BeforeEach(func() {
		ctx = context.Background()
		now = time.Date(2026, 11, 27, 10, 15, 42, 186377000, time.UTC)
		queue = uniqueName("q")
		prefix = uniqueName("spec:") + ":pushed:"
		deleteKeysLater(prefix + "*")
		DeferCleanup(func(ctx context.Context) {
			Expect(rdb.Del(ctx, "queue:"+queue).Err()).To(Succeed())
			Expect(rdb.SRem(ctx, "queues", queue).Err()).To(Succeed())
		})
		var err error
		client, err = sidekiq.New(rdb, sidekiq.Options{Queue: queue, MarkerPrefix: prefix, Now: func() time.Time { return now }})
		Expect(err).NotTo(HaveOccurred())
	})

	// jobs returns the queue's jobs, decoded, oldest first (Sidekiq LPUSHes
	// and BRPOPs: the list's right end is its head).
	jobs := func(key string) []map[string]any {
		GinkgoHelper()
		raw, err := rdb.LRange(ctx, key, 0, -1).Result()
		Expect(err).NotTo(HaveOccurred())
		out := make([]map[string]any, 0, len(raw))
		for i := len(raw) - 1; i >= 0; i-- {
			var m map[string]any
			Expect(json.Unmarshal([]byte(raw[i]), &m)).To(Succeed())
			out = append(out, m)
		}
		return out
	}

	Context("when a job is pushed", func() {
		It("registers the queue and pushes the job as Sidekiq's client does, with a marker that expires", func() {
			p, err := client.Push(ctx, "upload:7", sidekiq.Form526DocumentUploadFailureEmail(1234, "a1b2c3d4-guid"))
			Expect(err).NotTo(HaveOccurred())
			Expect(p.Duplicate).To(BeFalse())
			Expect(p.JID).To(MatchRegexp(`^[0-9a-f]{24}$`))

			Expect(rdb.SIsMember(ctx, "queues", queue).Val()).To(BeTrue())
			raw, err := rdb.LRange(ctx, "queue:"+queue, 0, -1).Result()
			Expect(err).NotTo(HaveOccurred())
			Expect(raw).To(Equal([]string{`{"retry":16,"queue":"` + queue + `","args":[1234,"a1b2c3d4-guid"],` +
				`"class":"EVSS::DisabilityCompensationForm::Form526DocumentUploadFailureEmail","jid":"` + p.JID + `",` +
				`"created_at":1795774542.186377,"enqueued_at":1795774542.186377}`}))

			Expect(rdb.Get(ctx, prefix+"upload:7").Val()).To(Equal(p.JID))
			ttl := rdb.TTL(ctx, prefix+"upload:7").Val()
			Expect(ttl).To(BeNumerically(">", 6*24*time.Hour))
			Expect(ttl).To(BeNumerically("<=", sidekiq.DefaultMarkerTTL))
		})

		It("pushes the Form 0781 email with the submission id alone", func() {
			_, err := client.Push(ctx, "upload:8", sidekiq.Form0781DocumentUploadFailureEmail(99))
			Expect(err).NotTo(HaveOccurred())
			Expect(jobs("queue:" + queue)).To(ConsistOf(SatisfyAll(
				HaveKeyWithValue("class", sidekiq.ClassForm0781DocumentUploadFailureEmail),
				HaveKeyWithValue("args", []any{99.0}),
				HaveKeyWithValue("retry", 16.0),
				HaveKeyWithValue("queue", queue),
			)))
		})

		It("keeps jobs of different keys in the order pushed, each with its own jid", func() {
			for i, id := range []int64{1, 2, 3} {
				now = now.Add(time.Duration(i) * time.Second)
				_, err := client.Push(ctx, "upload:"+string(rune('a'+i)), sidekiq.Form0781DocumentUploadFailureEmail(id))
				Expect(err).NotTo(HaveOccurred())
			}
			got := jobs("queue:" + queue)
			Expect(got).To(HaveLen(3))
			Expect([]any{got[0]["args"], got[1]["args"], got[2]["args"]}).To(Equal([]any{[]any{1.0}, []any{2.0}, []any{3.0}}))
			Expect(got[0]["jid"]).NotTo(Or(Equal(got[1]["jid"]), Equal(got[2]["jid"])))
		})
	})

	Context("when the same key is pushed again", func() {
		It("pushes nothing and answers the first push's jid", func() {
			first, err := client.Push(ctx, "upload:7", sidekiq.Form0781DocumentUploadFailureEmail(1))
			Expect(err).NotTo(HaveOccurred())
			again, err := client.Push(ctx, "upload:7", sidekiq.Form0781DocumentUploadFailureEmail(1))
			Expect(err).NotTo(HaveOccurred())
			Expect(again).To(Equal(sidekiq.Pushed{JID: first.JID, Duplicate: true}))
			Expect(rdb.LLen(ctx, "queue:"+queue).Val()).To(Equal(int64(1)))
		})

		It("pushes once when many clients race on one key", func() {
			var (
				wg   sync.WaitGroup
				mu   sync.Mutex
				jids = map[string]int{}
			)
			for range 16 {
				wg.Go(func() {
					defer GinkgoRecover()
					p, err := client.Push(ctx, "upload:race", sidekiq.Form0781DocumentUploadFailureEmail(5))
					Expect(err).NotTo(HaveOccurred())
					mu.Lock()
					defer mu.Unlock()
					if !p.Duplicate {
						jids[p.JID]++
					}
				})
			}
			wg.Wait()
			Expect(jids).To(HaveLen(1))
			Expect(rdb.LLen(ctx, "queue:"+queue).Val()).To(Equal(int64(1)))
		})
	})

	Context("when Redis refuses the push", func() {
		It("sets no marker, so the next push after the fix goes through", func() {
			Expect(rdb.Set(ctx, "queue:"+queue, "not a list", 0).Err()).To(Succeed())
			_, err := client.Push(ctx, "upload:7", sidekiq.Form0781DocumentUploadFailureEmail(1))
			Expect(err).To(MatchError(ContainSubstring("WRONGTYPE")))
			Expect(err).To(MatchError(ContainSubstring("push " + sidekiq.ClassForm0781DocumentUploadFailureEmail + " onto " + queue)))
			Expect(rdb.Exists(ctx, prefix+"upload:7").Val()).To(BeZero())

			Expect(rdb.Del(ctx, "queue:"+queue).Err()).To(Succeed())
			p, err := client.Push(ctx, "upload:7", sidekiq.Form0781DocumentUploadFailureEmail(1))
			Expect(err).NotTo(HaveOccurred())
			Expect(p.Duplicate).To(BeFalse())
			Expect(rdb.LLen(ctx, "queue:"+queue).Val()).To(Equal(int64(1)))
		})
	})

	Context("when the Sidekiq application has a namespace", func() {
		It("writes Sidekiq's keys under it and the marker under the prefix only", func() {
			ns := uniqueName("ns")
			deleteKeysLater(ns + ":*")
			nsClient, err := sidekiq.New(rdb, sidekiq.Options{Namespace: ns, MarkerPrefix: prefix})
			Expect(err).NotTo(HaveOccurred())
			_, err = nsClient.Push(ctx, "upload:7", sidekiq.Form0781DocumentUploadFailureEmail(1))
			Expect(err).NotTo(HaveOccurred())

			Expect(rdb.SMembers(ctx, ns+":queues").Val()).To(ConsistOf("default"))
			Expect(jobs(ns + ":queue:default")).To(ConsistOf(HaveKeyWithValue("queue", "default")))
			Expect(rdb.Exists(ctx, prefix+"upload:7").Val()).To(Equal(int64(1)))
			Expect(rdb.Exists(ctx, "queue:default").Val()).To(BeZero(), "nothing outside the namespace")
		})
	})

	Context("when the job or the options are invalid", func() {
		It("refuses each with a specific error and pushes nothing", func() {
			for job, msg := range map[*sidekiq.Job]string{
				{Args: []any{1}}:                             "job has no class",
				{Class: "Not A Class", Args: []any{}}:        `job class "Not A Class" is not a Ruby class name`,
				{Class: "Foo"}:                               "job Foo has no args array",
				{Class: "Foo", Args: []any{}, Retry: -1}:     "job Foo has a negative retry count",
				{Class: "Foo", Args: []any{func() {}}}:       "job Foo: args are not plain JSON values",
				{Class: "Foo", Args: []any{}, Queue: "a b"}:  `queue "a b" must be non-empty`,
				{Class: "Foo", Args: []any{1}, Queue: "{x}"}: `queue "{x}" must be non-empty`,
			} {
				_, err := client.Push(ctx, "upload:bad", *job)
				Expect(err).To(MatchError(ContainSubstring(msg)))
			}
			_, err := client.Push(ctx, "", sidekiq.Form0781DocumentUploadFailureEmail(1))
			Expect(err).To(MatchError(ContainSubstring("without a de-duplication key")))
			Expect(rdb.Exists(ctx, "queue:"+queue, prefix+"upload:bad").Val()).To(BeZero())

			_, err = sidekiq.New(rdb, sidekiq.Options{Namespace: "ns:", MarkerPrefix: prefix})
			Expect(err).To(MatchError(ContainSubstring("without the colon")))
			_, err = sidekiq.New(rdb, sidekiq.Options{})
			Expect(err).To(MatchError(ContainSubstring("marker prefix is required")))
			_, err = sidekiq.New(rdb, sidekiq.Options{MarkerPrefix: prefix, MarkerTTL: time.Millisecond})
			Expect(err).To(MatchError(ContainSubstring("marker TTL 1ms is under a second")))
		})
	})
})
