package workers_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
	"github.com/nzilacode/narcidicontrole/licensing/portal"
	"github.com/nzilacode/narcidicontrole/licensing/users"
	"github.com/nzilacode/narcidicontrole/workers"
	"github.com/nzilacode/narcidicontrole/workers/workerstest"
)

// TestPortugueseCustomerGetsPortugueseMails: a customer whose language is
// pt-PT (time zone Africa/Luanda) gets the expiry notice, the suspension
// notice and the portal's sign-in link in Portuguese, through the real
// SMTP server, with dates written the Portuguese way; one whose language
// is pt-BR gets Brazilian words.
func TestPortugueseCustomerGetsPortugueseMails(t *testing.T) {
	t.Parallel()
	modes(t, []string{licensing.ActionLicenseExpiring, licensing.ActionLicenseSuspended}, nil, nil, func(t *testing.T, w *world, r runner) {
		ctx := context.Background()
		lang, zone := "pt-PT", "Africa/Luanda"
		if _, err := w.svc.Customers.UpdateCustomer(ctx, w.customer.ID, licensing.CustomerPatch{Language: &lang, TimeZone: &zone}); err != nil {
			t.Fatal(err)
		}
		exp := *w.license.ExpiresAt // 40 days after 1 January 2027
		wantDate := ptDate(exp.In(mustZone(t, zone)))

		// The 30-day expiry notice.
		w.clock.Set(exp.Add(-30*day + time.Minute))
		must(t, r.Run(ctx, workers.TypeScanExpiry))
		w.settle()
		subjects, bodies, htmls := w.mail.Subjects(), w.mail.Bodies(), w.mail.HTMLBodies()
		if len(subjects) != 1 {
			t.Fatalf("mails: %q", subjects)
		}
		if want := "A sua licença Studio expira a " + wantDate; subjects[0] != want {
			t.Errorf("expiry subject %q, want %q", subjects[0], want)
		}
		for _, want := range []string{"Olá Acme,", "a sua licença Studio (chave terminada em " + w.license.KeyHint + ", plano Pro) expira a " + wantDate + ", daqui a 30 dias.", "Renove-a"} {
			if !strings.Contains(bodies[0], want) {
				t.Errorf("the expiry notice's text lacks %q:\n%s", want, bodies[0])
			}
		}
		if !strings.Contains(htmls[0], `<html lang="pt-PT">`) || !strings.Contains(htmls[0], "<strong>"+wantDate+"</strong>") {
			t.Errorf("the expiry notice's HTML:\n%s", htmls[0])
		}

		// The suspension notice, with staff's message.
		if _, err := w.svc.Licenses.Suspend(ctx, w.license.ID, licensing.SuspendInput{Reason: "unpaid", Message: "Fatura 12 por pagar."}); err != nil {
			t.Fatal(err)
		}
		w.settle()
		subjects, bodies = w.mail.Subjects(), w.mail.Bodies()
		if len(subjects) != 2 || subjects[1] != "A sua licença Studio está suspensa" {
			t.Fatalf("suspension subject: %q", subjects)
		}
		for _, want := range []string{"está suspensa: o software deixa de funcionar", "Uma palavra da NzilaCode: Fatura 12 por pagar.", "contacte a NzilaCode"} {
			if !strings.Contains(bodies[1], want) {
				t.Errorf("the suspension notice lacks %q:\n%s", want, bodies[1])
			}
		}
		for i, b := range bodies {
			if strings.Contains(b, "license") || strings.Contains(b, "Hello") {
				t.Errorf("mail %d has English words:\n%s", i, b)
			}
		}

		// The portal's sign-in link: pt-PT, then pt-BR.
		m, err := workers.NewMailer("smtp://"+w.mail.Addr+"?tls=none", "portal@narcidi.test")
		must(t, err)
		signIn, err := portal.NewService(portal.Config{Store: w.store.Portal(), Mailer: m, Clock: w.clock.Now})
		must(t, err)
		must(t, signIn.RequestLink(ctx, "it@acme.test", "https://licenses.example.test", "192.0.2.1"))
		workerstest.WaitFor(t, "the sign-in mail", func() bool { return len(w.mail.Subjects()) == 3 })
		subjects, bodies, htmls = w.mail.Subjects(), w.mail.Bodies(), w.mail.HTMLBodies()
		if subjects[2] != "A sua ligação de entrada no portal NzilaCode" {
			t.Errorf("sign-in subject %q", subjects[2])
		}
		for _, want := range []string{"pediu para entrar no portal de clientes da NzilaCode como it@acme.test", "Acme:\nhttps://licenses.example.test/portal/link?token=", "funciona uma vez, durante 15 minutos"} {
			if !strings.Contains(strings.ReplaceAll(bodies[2], "\r\n", "\n"), want) { // SMTP lines end in CRLF
				t.Errorf("the sign-in mail lacks %q:\n%s", want, bodies[2])
			}
		}
		if !strings.Contains(htmls[2], "Entrar em Acme") || !strings.Contains(htmls[2], `href="https://licenses.example.test/portal/link?token=`) {
			t.Errorf("the sign-in mail's HTML:\n%s", htmls[2])
		}

		br := "pt-BR"
		if _, err := w.svc.Customers.UpdateCustomer(ctx, w.customer.ID, licensing.CustomerPatch{Language: &br}); err != nil {
			t.Fatal(err)
		}
		if _, err := signIn.IssueLink(ctx, w.customer.ID, "", "https://licenses.example.test", true); err != nil {
			t.Fatal(err)
		}
		workerstest.WaitFor(t, "the staff's sign-in mail", func() bool { return len(w.mail.Subjects()) == 4 })
		subjects, bodies = w.mail.Subjects(), w.mail.Bodies()
		if subjects[3] != "Seu link de login no portal NzilaCode" || !strings.Contains(bodies[3], "A NzilaCode envia um link que faz seu login") ||
			!strings.Contains(bodies[3], "O link funciona uma vez, por 15 minutos") {
			t.Errorf("the pt-BR sign-in mail: %q\n%s", subjects[3], bodies[3])
		}
	})
}

var ptMonths = []string{"janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto", "setembro", "outubro", "novembro", "dezembro"}

// ptDate writes a date as a Portuguese reader does, independently of the
// catalog: "11 de fevereiro de 2027".
func ptDate(t time.Time) string {
	return strings.Join([]string{itoa(t.Day()), "de", ptMonths[t.Month()-1], "de", itoa(t.Year())}, " ")
}

func itoa(n int) string {
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	must(t, err)
	return loc
}

// TestStaffMailsFollowEachReader: a staff alert goes to each reader in
// their own language and time zone: the customer's addresses in the
// customer's, each admin address in its console user's (a pt-PT user in
// Luanda, a pt-BR one in São Paulo, an en one), an address of no user in
// the server default; one mail per language and zone. The console's
// password-reset mail follows the user's language, then the requesting
// browser's.
func TestStaffMailsFollowEachReader(t *testing.T) {
	t.Parallel()
	staff := map[string][2]string{"ana@nzilacode.test": {"pt-PT", "Africa/Luanda"}, "bia@nzilacode.test": {"pt-BR", "America/Sao_Paulo"},
		"bob@nzilacode.test": {"en", ""}}
	tune := func(c *workers.Config) {
		c.AdminEmails = []string{"ana@nzilacode.test", "bia@nzilacode.test", "bob@nzilacode.test", "ops@nzilacode.test", "ada@acme.test"}
	}
	modes(t, []string{licensing.ActionMachineBlocked}, nil, tune, func(t *testing.T, w *world, r runner) {
		ctx := context.Background()
		us := w.store.Users()
		for addr, loc := range staff {
			u := &users.User{ID: licensing.NewID(), Email: addr, Role: licensing.RoleAdmin, Status: users.StatusActive, CreatedAt: t0, UpdatedAt: t0}
			must(t, us.CreateUser(ctx, u))
			must(t, us.SetUserLocale(ctx, u.ID, &loc[0], &loc[1], t0))
		}
		g, err := w.svc.Leasing.Activate(ctx, licensing.MachineRequest{Key: w.license.Key, Fingerprint: "fp-staff-1", Hostname: "ws-1"})
		must(t, err)
		w.clock.Add(90 * time.Minute)
		at := w.clock.Now()
		_, err = w.svc.Licenses.BlockMachine(ctx, g.Machine.ID, "shared key")
		must(t, err)
		w.settle()
		if len(w.mail.Messages()) != 3 {
			t.Fatalf("alert mails: %v\n%s", w.mail.Subjects(), w.logs)
		}
		msgs, bodies := w.mail.Messages(), w.mail.Bodies()
		byReader := map[string]string{}
		for i, m := range msgs {
			slices.Sort(m.To)
			byReader[strings.Join(m.To, ",")] = strings.ReplaceAll(bodies[i], "\r\n", "\n")
		}
		luanda, saoPaulo := at.In(mustZone(t, "Africa/Luanda")), at.In(mustZone(t, "America/Sao_Paulo"))
		for to, want := range map[string][]string{
			"ana@nzilacode.test": {"Olá Acme,", "Evento: machine.blocked", "Hora: " + ptDate(luanda) + ", às " + luanda.Format("15:04") + " WAT", "-- Narcidi, para a NzilaCode"},
			"bia@nzilacode.test": {"Evento: machine.blocked", "Hora: " + ptDate(saoPaulo) + ", às " + saoPaulo.Format("15:04") + " -03"},
			// The customer (no preference), its contact also on the staff
			// list, the en user and the address of no user: English, UTC.
			"ada@acme.test,bob@nzilacode.test,it@acme.test,ops@nzilacode.test": {"Event: machine.blocked", "Time: 1 January 2027, " + at.UTC().Format("15:04") + " UTC", "-- Narcidi, for NzilaCode"},
		} {
			body, ok := byReader[to]
			if !ok {
				t.Errorf("no mail to exactly %s; mails went to %v", to, slices.Collect(maps.Keys(byReader)))
				continue
			}
			for _, s := range want {
				if !strings.Contains(body, s) {
					t.Errorf("the mail to %s lacks %q:\n%s", to, s, body)
				}
			}
		}
		if strings.Contains(byReader["ana@nzilacode.test"], "Event:") || strings.Contains(byReader["ana@nzilacode.test"], "January") {
			t.Errorf("the pt-PT reader's mail has English words:\n%s", byReader["ana@nzilacode.test"])
		}

		// The password-reset mail: ana's in Portuguese whatever the
		// browser; bob's in English; ops (no language yet) in the
		// browser's.
		m, err := workers.NewMailer("smtp://"+w.mail.Addr+"?tls=none", "console@narcidi.test")
		must(t, err)
		svc, err := users.NewService(users.Config{Store: us, Box: w.box, Clock: w.clock.Now, Mailer: m})
		must(t, err)
		link := func(secret string) string {
			return "https://licenses.example.test/console/set-password?token=" + secret
		}
		browserEN := i18n.WithLanguage(ctx, "en-GB,en;q=0.8")
		must(t, svc.RequestPasswordReset(browserEN, "ana@nzilacode.test", link, "192.0.2.1"))
		must(t, svc.RequestPasswordReset(i18n.WithLanguage(ctx, "pt-PT"), "bob@nzilacode.test", link, "192.0.2.1"))
		ops, _, err := svc.CreateUser(ctx, "ops@nzilacode.test", licensing.RoleSupport)
		must(t, err)
		must(t, svc.RequestPasswordReset(i18n.WithLanguage(ctx, "pt-BR,pt;q=0.9"), ops.Email, link, "192.0.2.1"))
		workerstest.WaitFor(t, "three reset mails", func() bool { return len(w.mail.Messages()) == 6 })
		subjects, bodies := w.mail.Subjects()[3:], w.mail.Bodies()[3:]
		for i, want := range []struct{ subject, body string }{
			{"Redefina a sua palavra-passe da consola NzilaCode", "A ligação funciona uma vez, durante 24 horas."},
			{"Reset your NzilaCode console password", "The link works once, for 24 hours."},
			{"Redefina sua senha do console NzilaCode", "O link funciona uma vez, por 24 horas."},
		} {
			if subjects[i] != want.subject || !strings.Contains(bodies[i], want.body) || !strings.Contains(bodies[i], "https://licenses.example.test/console/set-password?token=nzp_") {
				t.Errorf("reset mail %d: %q\n%s", i, subjects[i], bodies[i])
			}
		}
	})
}
