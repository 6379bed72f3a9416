package insights_test

import (
	"reflect"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing/insights"
)

// LicenseDays builds each license's total per day from its stored rows
// (one row per use: machines', and the license's own for machine-less
// uses), keeps the machine rows, and orders license, day, machine.
func TestLicenseDays(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name         string
		stored, want []insights.Day
	}{
		{name: "nothing", stored: nil, want: nil},
		{
			name:   "a machine-less use only",
			stored: []insights.Day{{Day: "2026-01-02", LicenseID: "a", Validations: 2}},
			want:   []insights.Day{{Day: "2026-01-02", LicenseID: "a", Validations: 2}},
		},
		{
			name: "machines and a machine-less use, two days, two licenses",
			stored: []insights.Day{
				{Day: "2026-01-03", LicenseID: "b", MachineID: "m9", Renewals: 1, Platforms: []string{"linux/amd64"}},
				{Day: "2026-01-02", LicenseID: "a", MachineID: "m2", Heartbeats: 4, Networks: []string{"198.51.100.0/24"}},
				{Day: "2026-01-02", LicenseID: "a", Validations: 1, Networks: []string{"203.0.113.0/24"}},
				{Day: "2026-01-02", LicenseID: "a", MachineID: "m1", Renewals: 3, Networks: []string{"192.0.2.0/24", "198.51.100.0/24"}, AppVersions: []string{"2.0"}},
				{Day: "2026-01-03", LicenseID: "a", MachineID: "m1", Activations: 1},
			},
			want: []insights.Day{
				{Day: "2026-01-02", LicenseID: "a", Renewals: 3, Heartbeats: 4, Validations: 1,
					Networks: []string{"192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"}, AppVersions: []string{"2.0"}},
				{Day: "2026-01-02", LicenseID: "a", MachineID: "m1", Renewals: 3, Networks: []string{"192.0.2.0/24", "198.51.100.0/24"}, AppVersions: []string{"2.0"}},
				{Day: "2026-01-02", LicenseID: "a", MachineID: "m2", Heartbeats: 4, Networks: []string{"198.51.100.0/24"}},
				{Day: "2026-01-03", LicenseID: "a", Activations: 1},
				{Day: "2026-01-03", LicenseID: "a", MachineID: "m1", Activations: 1},
				{Day: "2026-01-03", LicenseID: "b", Renewals: 1, Platforms: []string{"linux/amd64"}},
				{Day: "2026-01-03", LicenseID: "b", MachineID: "m9", Renewals: 1, Platforms: []string{"linux/amd64"}},
			},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := append([]insights.Day(nil), c.stored...)
			if got := insights.LicenseDays(c.stored); !reflect.DeepEqual(got, c.want) {
				t.Errorf("LicenseDays:\n%+v\nwant\n%+v", got, c.want)
			}
			if !reflect.DeepEqual(in, c.stored) {
				t.Error("LicenseDays changed its input")
			}
		})
	}
}
