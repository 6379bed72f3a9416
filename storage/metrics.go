package storage

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"gorm.io/gorm"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// The database's series. They are read from the database at scrape time
// (not counted in this process), so every instance reports the same
// figures: dashboards and alerts take their max, not their sum.
var (
	descDatabaseUp = prometheus.NewDesc("narcidi_database_up",
		"1 if the database answered a ping and takes writes at scrape time, else 0.", nil, nil)
	descOutboxPending = prometheus.NewDesc("narcidi_outbox_pending",
		"Events in the outbox not yet dispatched to the queue.", nil, nil)
	descOutboxOldest = prometheus.NewDesc("narcidi_outbox_oldest_pending_age_seconds",
		"Age of the oldest event not yet dispatched (0 when the outbox is empty).", nil, nil)
	descDeliveriesPending = prometheus.NewDesc("narcidi_deliveries_pending",
		"Webhook and email deliveries still to be made or retried.", nil, nil)
	descMachines = prometheus.NewDesc("narcidi_machines",
		"Machines by status.", []string{"status"}, nil)
	descSeatsInUse = prometheus.NewDesc("narcidi_seats_in_use",
		"Seats held: active and offline machines (a blocked machine holds none).", nil, nil)
	descLicenses = prometheus.NewDesc("narcidi_licenses",
		"Licenses by status.", []string{"status"}, nil)
)

// scrapeTimeout bounds the queries of one scrape, so a slow database makes
// a scrape report it down instead of hanging until Prometheus gives up.
const scrapeTimeout = 5 * time.Second

// RegisterMetrics registers the database's series on reg: the connection
// pool (client_golang's sql.DBStats collector, go_sql_* with
// db_name="narcidi"), whether the database is up, the outbox backlog and
// the age of its oldest entry, pending deliveries, machines, seats and
// licenses. Failed queries are logged at warn level and their series left
// out of that scrape.
func (s *Store) RegisterMetrics(reg prometheus.Registerer, log *slog.Logger) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return errors.Join(
		reg.Register(collectors.NewDBStatsCollector(sqlDB, "narcidi")),
		reg.Register(&dbCollector{s: s, log: log, now: time.Now}),
	)
}

type dbCollector struct {
	s   *Store
	log *slog.Logger
	now func() time.Time
}

func (c *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDatabaseUp, descOutboxPending, descOutboxOldest, descDeliveriesPending, descMachines, descSeatsInUse, descLicenses} {
		ch <- d
	}
}

func (c *dbCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	if err := c.s.Ping(ctx); err != nil {
		c.log.Warn("metrics: the database is down", "err", err)
		gauge(descDatabaseUp, 0)
		return
	}
	gauge(descDatabaseUp, 1)
	q := c.s.q(ctx)
	fail := func(what string, err error) {
		c.log.Warn("metrics: cannot read "+what, "err", err)
	}

	var pending int64
	if err := q.Model(&outboxRow{}).Where("dispatched_at IS NULL").Count(&pending).Error; err != nil {
		fail("the outbox", err)
	} else {
		gauge(descOutboxPending, float64(pending))
		age := 0.0
		if pending > 0 {
			var oldest outboxRow
			err := q.Where("dispatched_at IS NULL").Order("created_at").Limit(1).Take(&oldest).Error
			switch {
			case err == nil:
				age = max(0, c.now().Sub(oldest.CreatedAt).Seconds())
			case !errors.Is(err, gorm.ErrRecordNotFound): // dispatched meanwhile: 0
				fail("the outbox", err)
			}
		}
		gauge(descOutboxOldest, age)
	}

	var deliveries int64
	if err := q.Model(&deliveryRow{}).Where("status = ?", string(licensing.DeliveryPending)).Count(&deliveries).Error; err != nil {
		fail("the deliveries", err)
	} else {
		gauge(descDeliveriesPending, float64(deliveries))
	}

	type group struct {
		K string
		N int64
	}
	var machines []group
	if err := q.Model(&machineRow{}).Select("status AS k, count(*) AS n").Group("status").Scan(&machines).Error; err != nil {
		fail("the machines", err)
	} else {
		// Every status is reported, 0 included, so a series does not vanish
		// when its last machine changes status.
		by := map[string]int64{}
		for _, g := range machines {
			by[g.K] = g.N
		}
		for _, st := range []licensing.MachineStatus{licensing.MachineActive, licensing.MachineOffline, licensing.MachineBlocked} {
			gauge(descMachines, float64(by[string(st)]), string(st))
		}
		gauge(descSeatsInUse, float64(by[string(licensing.MachineActive)]+by[string(licensing.MachineOffline)]))
	}

	var licenses []group
	if err := q.Model(&licenseRow{}).Select("status AS k, count(*) AS n").Group("status").Scan(&licenses).Error; err != nil {
		fail("the licenses", err)
	} else {
		by := map[string]int64{}
		for _, g := range licenses {
			by[g.K] = g.N
		}
		for _, st := range []licensing.LicenseStatus{licensing.LicenseActive, licensing.LicenseSuspended, licensing.LicenseExpired, licensing.LicenseRevoked} {
			gauge(descLicenses, float64(by[string(st)]), string(st))
		}
	}
}
