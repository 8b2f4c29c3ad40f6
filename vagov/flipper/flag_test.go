package flipper_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vagov/lighthouse526/db"
	"github.com/vagov/lighthouse526/db/dbtest"
	"github.com/vagov/lighthouse526/vagov/flipper"
	"github.com/vagov/lighthouse526/vagov/rails"
)

const feature = flipper.FailureEmailsFeature

// rubyFlipper changes the feature as VA.gov's operators do, through Debian's
// Flipper and its ActiveRecord adapter (vagov/rails/flipper.rb), and
// returns what Flipper then says of it.
func rubyFlipper(ctx context.Context, args ...string) flipperSays {
	GinkgoHelper()
	out, err := rails.Ruby(ctx, dbURL, "flipper.rb", append([]string{feature}, args...)...)
	Expect(err).NotTo(HaveOccurred())
	var says flipperSays
	Expect(json.Unmarshal(out, &says)).To(Succeed(), string(out))
	return says
}

// flipperSays is Flipper's own view of the feature.
type flipperSays struct {
	State               string   `json:"state"`
	EnabledWithoutActor bool     `json:"enabled_without_actor"`
	Boolean             bool     `json:"boolean"`
	PercentageOfTime    float64  `json:"percentage_of_time"`
	PercentageOfActors  float64  `json:"percentage_of_actors"`
	Actors              []string `json:"actors"`
	Groups              []string `json:"groups"`
}

// logs collects a logger's JSON lines.
type logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// lines returns the logged lines with message msg.
func (l *logs) lines(msg string) []map[string]any {
	GinkgoHelper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(l.buf.Bytes()))
	for sc.Scan() {
		var line map[string]any
		Expect(json.Unmarshal(sc.Bytes(), &line)).To(Succeed())
		if line["msg"] == msg {
			out = append(out, line)
		}
	}
	return out
}

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var _ = Describe("Flag", func() {
	var (
		log   *logs
		clk   *clock
		reg   *prometheus.Registry
		draw  float64
		flag  *flipper.Flag
		newOn func(cfg flipper.Config) *flipper.Flag
	)

	BeforeEach(func() {
		log, clk, draw = &logs{}, &clock{t: time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)}, 0.5
		// A Flag on db, with a registry of its own.
		newOn = func(cfg flipper.Config) *flipper.Flag {
			reg = prometheus.NewRegistry()
			cfg.Feature, cfg.MaxAge = feature, time.Minute
			cfg.Logger = slog.New(slog.NewJSONHandler(log, nil))
			cfg.Registerer, cfg.Now, cfg.Draw = reg, clk.now, func() float64 { return draw }
			return flipper.New(cfg)
		}
		flag = newOn(flipper.Config{DB: sqlDB})
	})

	// Flipper.enabled?(feature) with no actor, as the original asks it, is
	// what the flag reads Flipper's tables as, for each way operators set it.
	DescribeTable("reads what Flipper's ActiveRecord adapter writes as Flipper.enabled? with no actor",
		func(ctx SpecContext, emails, reason string, steps ...[]string) {
			var says flipperSays
			for _, step := range steps {
				says = rubyFlipper(ctx, step...)
			}
			g, err := flag.Read(ctx)
			Expect(err).NotTo(HaveOccurred())

			Expect(g.TablesExist).To(BeTrue())
			Expect(g.Boolean).To(Equal(says.Boolean))
			Expect(g.PercentageOfTime).To(Equal(says.PercentageOfTime))
			Expect(g.PercentageOfActors).To(Equal(says.PercentageOfActors))
			Expect(g.Actors).To(Equal(len(says.Actors)))
			Expect(g.Groups).To(Equal(len(says.Groups)))
			Expect(g.Unreadable).To(BeEmpty())
			if says.PercentageOfTime == 0 || says.Boolean {
				// Deterministic checks: Flipper's own answer, whatever the draw.
				for _, d := range []float64{0, 0.5, 0.999999} {
					Expect(g.Enabled(d)).To(Equal(says.EnabledWithoutActor), "draw %v", d)
				}
			}
			state, why := g.Emails()
			Expect(state).To(Equal(emails))
			Expect(why).To(Equal(reason))
		},
		Entry("enabled for everyone (boolean gate)", "on", "boolean gate", []string{"enable"}),
		Entry("enabled, then disabled (every gate cleared)", "off", "every gate is off", []string{"enable"}, []string{"disable"}),
		Entry("known, never enabled", "off", "every gate is off", []string{"add"}),
		Entry("removed", "off", "the flag is not in flipper_features", []string{"enable"}, []string{"remove"}),
		Entry("for one actor only", "off", "only actor, group or percentage_of_actors gates are set, and the check names no actor", []string{"actor", "600043284"}),
		Entry("for a group only", "off", "only actor, group or percentage_of_actors gates are set, and the check names no actor", []string{"group", "admins"}),
		Entry("for 50% of actors", "off", "only actor, group or percentage_of_actors gates are set, and the check names no actor", []string{"percentage_of_actors", "50"}),
		Entry("for 25% of the time", "25% of checks", "percentage_of_time gate", []string{"percentage_of_time", "25"}),
		Entry("for 100% of the time", "100% of checks", "percentage_of_time gate", []string{"percentage_of_time", "100"}),
		Entry("for an actor and on for everyone", "on", "boolean gate", []string{"actor", "1"}, []string{"enable"}),
	)

	It("opens a percentage_of_time gate with that chance per check, as Flipper's rand < value / 100", func(ctx SpecContext) {
		rubyFlipper(ctx, "percentage_of_time", "25")
		for d, want := range map[float64]bool{0: true, 0.2499: true, 0.25: false, 0.9: false} {
			draw = d
			Expect(flag.Enabled(ctx)).To(Equal(want), "draw %v", d)
		}
		Expect(gauge(reg)).To(Equal(0.25))
	})

	It("reads Flipper's tables at most once per max age, and says the state once, and again when it changes", func(ctx SpecContext) {
		Expect(flag.Enabled(ctx)).To(BeFalse())
		rubyFlipper(ctx, "enable")
		clk.add(59 * time.Second)
		Expect(flag.Enabled(ctx)).To(BeFalse(), "the gates read 59 s ago")
		clk.add(time.Second)
		Expect(flag.Enabled(ctx)).To(BeTrue(), "read again after a minute")
		Expect(gauge(reg)).To(Equal(1.0))
		clk.add(time.Minute)
		Expect(flag.Enabled(ctx)).To(BeTrue())
		rubyFlipper(ctx, "disable")
		clk.add(time.Minute)
		Expect(flag.Enabled(ctx)).To(BeFalse())
		Expect(gauge(reg)).To(Equal(0.0))

		said := log.lines(flipper.LogFlagState)
		Expect(said).To(HaveLen(3))
		Expect(said[0]).To(And(HaveKeyWithValue("level", "WARN"), HaveKeyWithValue("emails", "off"),
			HaveKeyWithValue("reason", "the flag is not in flipper_features"), HaveKeyWithValue("flag", feature)))
		Expect(said[1]).To(And(HaveKeyWithValue("level", "INFO"), HaveKeyWithValue("emails", "on"), HaveKeyWithValue("reason", "boolean gate")))
		Expect(said[2]).To(And(HaveKeyWithValue("emails", "off"), HaveKeyWithValue("reason", "every gate is off")))
	})

	Context("when the database has no Flipper tables", func() {
		It("reads the flag as off, and says so once", func(ctx SpecContext) {
			url, err := dbtest.CreateDatabase(ctx, fmt.Sprintf("flipper_none_%d", GinkgoParallelProcess()))
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(dbtest.DropDatabase, context.WithoutCancel(ctx), url)
			empty, err := db.Open(ctx, db.Options{URL: url, MaxOpenConns: 1})
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(db.Close, empty)
			emptySQL, err := empty.DB()
			Expect(err).NotTo(HaveOccurred())
			flag = newOn(flipper.Config{DB: emptySQL})

			g, err := flag.Read(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(g.TablesExist).To(BeFalse())
			for range 3 {
				draw = 0
				Expect(flag.Enabled(ctx)).To(BeFalse())
				clk.add(time.Minute)
			}
			said := log.lines(flipper.LogFlagState)
			Expect(said).To(HaveLen(1))
			Expect(said[0]).To(And(HaveKeyWithValue("level", "WARN"), HaveKeyWithValue("emails", "off"),
				HaveKeyWithValue("reason", "Flipper's tables (flipper_features, flipper_gates) are not in this database")))
		})
	})

	Context("when a gate holds a value Flipper would not read", func() {
		It("keeps that gate closed, says which, and counts it", func(ctx SpecContext) {
			Expect(gdb.Exec(`INSERT INTO flipper_gates (feature_key, key, value, created_at, updated_at)
				VALUES (?, 'percentage_of_time', 'most', now(), now())`, feature).Error).To(Succeed())

			draw = 0
			Expect(flag.Enabled(ctx)).To(BeFalse())
			said := log.lines(flipper.LogFlagState)
			Expect(said).To(HaveLen(1))
			Expect(said[0]).To(And(HaveKeyWithValue("level", "WARN"),
				HaveKeyWithValue("unreadable_gates", ConsistOf(`percentage_of_time="most"`))))
			Expect(errorsOf(reg, "unreadable_gate")).To(Equal(1.0))
		})
	})

	Context("when the worker's role may not read Flipper's tables", func() {
		It("fails the read, which worker run turns into a refusal to start, rather than reading the flag as absent", func(ctx SpecContext) {
			role := fmt.Sprintf("lh526_flipper_noread_%d", GinkgoParallelProcess())
			Expect(gdb.Exec(`DROP ROLE IF EXISTS ` + role).Error).To(Succeed())
			Expect(gdb.Exec(`CREATE ROLE ` + role + ` NOLOGIN`).Error).To(Succeed())
			DeferCleanup(func() { Expect(gdb.Exec(`DROP ROLE IF EXISTS ` + role).Error).To(Succeed()) })
			// The session takes the role at connection time, as a role of
			// its own would connect.
			u, err := url.Parse(dbURL)
			Expect(err).NotTo(HaveOccurred())
			q := u.Query()
			q.Set("options", "--role="+role)
			u.RawQuery = q.Encode()
			limited, err := db.Open(ctx, db.Options{URL: u.String(), MaxOpenConns: 1})
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(db.Close, limited)
			limitedSQL, err := limited.DB()
			Expect(err).NotTo(HaveOccurred())
			flag = newOn(flipper.Config{DB: limitedSQL})

			_, err = flag.Read(ctx)
			Expect(err).To(MatchError(ContainSubstring("permission denied")))
			Expect(errorsOf(reg, "read_failed")).To(Equal(1.0))
			Expect(log.lines(flipper.LogFlagState)).To(BeEmpty())
		})
	})

	Context("when a read fails", func() {
		It("keeps the gates last read, logs and counts the failure, and asks again only after the max age", func(ctx SpecContext) {
			url, err := dbtest.CreateDatabase(ctx, fmt.Sprintf("flipper_gone_%d", GinkgoParallelProcess()))
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(dbtest.DropDatabase, context.WithoutCancel(ctx), url)
			Expect(dbtest.MakeVAGovTables(ctx, url)).To(Succeed())
			other, err := db.Open(ctx, db.Options{URL: url, MaxOpenConns: 1})
			Expect(err).NotTo(HaveOccurred())
			otherSQL, err := other.DB()
			Expect(err).NotTo(HaveOccurred())
			Expect(other.Exec(`INSERT INTO flipper_gates (feature_key, key, value, created_at, updated_at)
				VALUES (?, 'boolean', 'true', now(), now())`, feature).Error).To(Succeed())
			flag = newOn(flipper.Config{DB: otherSQL})
			Expect(flag.Enabled(ctx)).To(BeTrue())

			Expect(db.Close(other)).To(Succeed())
			clk.add(time.Minute)
			_, err = flag.Read(ctx)
			Expect(err).To(MatchError(ContainSubstring("flipper: read " + feature)))
			Expect(flag.Enabled(ctx)).To(BeTrue(), "the gates last read")
			Expect(errorsOf(reg, "read_failed")).To(Equal(1.0), "asked once within the max age")
			Expect(log.lines("cannot read Flipper's flag of the failure emails; the gates last read stay in force")).To(HaveLen(1))
		})
	})
})

// gauge is the share gauge of reg.
func gauge(reg *prometheus.Registry) float64 {
	GinkgoHelper()
	return metricValue(reg, "form526_document_upload_failure_emails_share", "")
}

// errorsOf is the error counter of reg for reason.
func errorsOf(reg *prometheus.Registry, reason string) float64 {
	GinkgoHelper()
	return metricValue(reg, "form526_document_upload_failure_email_flag_errors_total", reason)
}

// metricValue is the value of one series of reg: name, with label value
// reason when it has a label.
func metricValue(reg *prometheus.Registry, name, reason string) float64 {
	GinkgoHelper()
	families, err := reg.Gather()
	Expect(err).NotTo(HaveOccurred())
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if reason != "" && (len(m.GetLabel()) != 1 || m.GetLabel()[0].GetValue() != reason) {
				continue
			}
			return m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	Fail(fmt.Sprintf("no %s{reason=%q}", name, reason))
	return 0
}
