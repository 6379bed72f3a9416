package storage_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// TestSearchCustomers: the console's customer picker and search are one
// bounded query on name, email and contacts (any case, LIKE's wildcards
// literal), paged by id.
func TestSearchCustomers(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		ids := map[string]string{}
		for _, c := range []struct{ name, email string }{
			{"Globex Corp", "ops@globex.example"}, {"Acme", "it@acme.example"}, {"globex labs", "lab@example.com"}, {"100% Foods", "x@foods.example"},
		} {
			cu := &licensing.Customer{Name: c.name, Email: c.email, Status: licensing.CustomerActive}
			if c.name == "Acme" {
				cu.Contacts = []licensing.Contact{{Name: "Ann", Email: "ann@acme.example"}}
			}
			if err := st.CreateCustomer(ctx, cu); err != nil {
				t.Fatal(err)
			}
			ids[c.name] = cu.ID
		}
		for _, tc := range []struct {
			q     string
			limit int
			want  []string
		}{
			{"globex", 10, []string{"Globex Corp", "globex labs"}},
			{"GLOBEX", 1, []string{"Globex Corp"}},
			{"ANN@", 10, []string{"Acme"}},
			{"acme.example", 10, []string{"Acme"}},
			{"%", 10, []string{"100% Foods"}},
			{"_", 10, nil},
			{ids["Acme"], 10, []string{"Acme"}},
			{"nobody", 10, nil},
		} {
			got, err := st.SearchCustomers(ctx, tc.q, licensing.Page{Limit: tc.limit})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, c := range got {
				names = append(names, c.Name)
			}
			if fmt.Sprint(names) != fmt.Sprint(tc.want) {
				t.Errorf("search %q (limit %d) = %v, want %v", tc.q, tc.limit, names, tc.want)
			}
		}
	})
}

// TestEventsNewestFirst: the console's audit log pages newest first on the
// time-ordered ids.
func TestEventsNewestFirst(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		var ids []string
		for i := range 5 {
			e := &licensing.Event{Action: licensing.ActionCustomerCreated, TargetType: "customer", TargetID: fmt.Sprint(i), Actor: "system"}
			if err := st.AppendEvent(ctx, e); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, e.ID)
		}
		first, err := st.ListEvents(ctx, licensing.EventFilter{Newest: true}, licensing.Page{Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		second, err := st.ListEvents(ctx, licensing.EventFilter{Newest: true}, licensing.Page{After: first[len(first)-1].ID, Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range append(first, second...) {
			got = append(got, e.ID)
		}
		want := []string{ids[4], ids[3], ids[2], ids[1], ids[0]}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("newest first = %v, want %v", got, want)
		}
	})
}

// TestSearchCustomersPages: a search pages on by id.
func TestSearchCustomersPages(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		for i := range 5 {
			must(t, st.CreateCustomer(ctx, &licensing.Customer{Name: fmt.Sprintf("Wayne %d", i), Status: licensing.CustomerActive}))
		}
		must(t, st.CreateCustomer(ctx, &licensing.Customer{Name: "Other", Status: licensing.CustomerActive}))
		first, err := st.SearchCustomers(ctx, "wayne", licensing.Page{Limit: 3})
		must(t, err)
		rest, err := st.SearchCustomers(ctx, "wayne", licensing.Page{After: first[len(first)-1].ID, Limit: 3})
		must(t, err)
		if len(first) != 3 || len(rest) != 2 || rest[0].Name != "Wayne 3" {
			t.Fatalf("pages: %d then %d (%v)", len(first), len(rest), rest)
		}
	})
}
