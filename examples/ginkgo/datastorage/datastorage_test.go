package datastorage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// within bounds a spec's requests.
var within = SpecTimeout(time.Minute)

// The DataStorage API's paths (examples/kubernaut-real/datastorage/internal/api).
const (
	healthPath = "/health"
	eventsPath = "/api/v1/audit/events"
	countPath  = "/api/v1/audit/events/count"
)

// health is the body of GET /health.
type health struct {
	Status string            `json:"status"`
	Reason string            `json:"reason"`
	Checks map[string]string `json:"checks"`
}

// event is a stored audit event, as POST /api/v1/audit/events answers it
// and GET lists it.
type event struct {
	ID        int64     `json:"id"`
	Service   string    `json:"service"`
	Action    string    `json:"action"`
	CreatedAt time.Time `json:"createdAt"`
}

// eventList is the body of GET /api/v1/audit/events.
type eventList struct {
	Events []event `json:"events"`
}

// eventCount is the body of GET /api/v1/audit/events/count.
type eventCount struct {
	Service string `json:"service"`
	Count   int64  `json:"count"`
	Cached  bool   `json:"cached"`
}

// apiError is the body of every error the API answers.
type apiError struct {
	Error string `json:"error"`
}

// reply is an answer of the API: its status code and its body, for
// failure messages.
type reply struct {
	Code int
	Body string
}

var httpClient = &http.Client{Timeout: 15 * time.Second}

// call sends method path to DataStorage through the stack's host port, with
// body as JSON ("" sends none), checks that the answer is JSON and decodes
// it into out.
func call(ctx context.Context, method, path, body string, out any) reply {
	GinkgoHelper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	u := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(stk.Ports["datastorage-api"])) + path
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	Expect(err).NotTo(HaveOccurred())
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := httpClient.Do(req)
	Expect(err).NotTo(HaveOccurred(), "%s %s", method, u)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred(), "%s %s: reading the body", method, u)
	Expect(resp.Header.Get("Content-Type")).To(Equal("application/json"), "%s %s: %s", method, path, b)
	Expect(json.Unmarshal(b, out)).To(Succeed(), "%s %s: %s", method, path, b)
	return reply{Code: resp.StatusCode, Body: fmt.Sprintf("%s %s: %d %s", method, path, resp.StatusCode, b)}
}

// service returns a service name that only this run, this process and
// this name write events for: specs on other processes, running at the
// same time against the same database, never write for it.
func service(name string) string {
	return fmt.Sprintf("ginkgo-%s-p%d-%s", stk.Run, GinkgoParallelProcess(), name)
}

// postEvent stores an event of svc and returns it as the API answered it.
func postEvent(ctx context.Context, svc, action string) event {
	GinkgoHelper()
	var ev event
	r := call(ctx, http.MethodPost, eventsPath, fmt.Sprintf(`{"service":%q,"action":%q}`, svc, action), &ev)
	Expect(r.Code).To(Equal(http.StatusCreated), r.Body)
	Expect(ev.ID).To(BeNumerically(">", 0), r.Body)
	Expect(ev.Service).To(Equal(svc), r.Body)
	Expect(ev.Action).To(Equal(action), r.Body)
	Expect(ev.CreatedAt).NotTo(BeZero(), r.Body)
	return ev
}

// listEvents returns the events the API lists for query.
func listEvents(ctx context.Context, query url.Values) []event {
	GinkgoHelper()
	var list eventList
	r := call(ctx, http.MethodGet, eventsPath+"?"+query.Encode(), "", &list)
	Expect(r.Code).To(Equal(http.StatusOK), r.Body)
	Expect(list.Events).NotTo(BeNil(), "%s: no events array", r.Body)
	return list.Events
}

// ids returns the events' IDs, in order.
func ids(events []event) []int64 {
	out := make([]int64, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
}

var _ = Describe("DataStorage, through its host port", func() {
	It("is ready, with PostgreSQL and Redis ok", func(ctx SpecContext) {
		var h health
		r := call(ctx, http.MethodGet, healthPath, "", &h)
		Expect(r.Code).To(Equal(http.StatusOK), r.Body)
		Expect(h).To(Equal(health{Status: "ready", Checks: map[string]string{"postgresql": "ok", "redis": "ok"}}), r.Body)
	}, within)

	// The writers run on whichever processes are free, several at once
	// against the one database: each must list exactly its own events.
	DescribeTable("stores a writer's events and lists exactly those back, newest first",
		func(ctx SpecContext, writer string, n int) {
			svc := service(writer)
			var written []event
			for i := range n {
				written = append(written, postEvent(ctx, svc, fmt.Sprintf("%s.action-%d", writer, i)))
			}
			slices.Reverse(written) // newest first, as the API lists them

			got := listEvents(ctx, url.Values{"service": {svc}})
			Expect(ids(got)).To(Equal(ids(written)), "events listed for %s", svc)
			for i, e := range got {
				Expect(e.Service).To(Equal(svc))
				Expect(e.Action).To(Equal(written[i].Action))
				Expect(e.CreatedAt.Equal(written[i].CreatedAt)).To(BeTrue(), "event %d: created %v, listed %v", e.ID, written[i].CreatedAt, e.CreatedAt)
			}

			Expect(ids(listEvents(ctx, url.Values{"service": {svc}, "limit": {"1"}}))).To(Equal(ids(written[:1])), "limit=1: the newest")
			Expect(ids(listEvents(ctx, url.Values{"limit": {"1000"}}))).To(ContainElements(ids(written)), "every service's events")
		},
		EntryDescription("%s: %d events"),
		Entry(nil, "writer-1", 5, within),
		Entry(nil, "writer-2", 5, within),
		Entry(nil, "writer-3", 5, within),
		Entry(nil, "writer-4", 5, within),
		Entry(nil, "writer-5", 5, within),
		Entry(nil, "writer-6", 5, within),
		Entry(nil, "writer-7", 5, within),
		Entry(nil, "writer-8", 5, within),
	)

	DescribeTable("answers 400 with a JSON error for a body that is no JSON object of service and action",
		func(ctx SpecContext, body, wantErr string) {
			var e apiError
			r := call(ctx, http.MethodPost, eventsPath, body, &e)
			Expect(r.Code).To(Equal(http.StatusBadRequest), r.Body)
			Expect(e.Error).To(ContainSubstring(wantErr), r.Body)
		},
		Entry("truncated JSON", `{"service":"gateway"`, "invalid JSON body", within),
		Entry("not JSON", `service=gateway&action=x`, "invalid JSON body", within),
		Entry("no body", ``, "request body is empty", within),
		Entry("an unknown field", `{"service":"gateway","action":"x","actor":"y"}`, `unknown field "actor"`, within),
		Entry("two JSON values", `{"service":"gateway","action":"x"}{}`, "more than one JSON value", within),
	)

	It("answers 400 for an event without a service or an action, and stores nothing", func(ctx SpecContext) {
		svc := service("missing-field")
		for body, wantErr := range map[string]string{
			fmt.Sprintf(`{"service":%q}`, svc):               "action is required",
			fmt.Sprintf(`{"service":%q,"action":"  "}`, svc): "action is required",
			`{"action":"signal.received"}`:                   "service is required",
			fmt.Sprintf(`{"service":%q,"action":null}`, svc): "action is required",
		} {
			var e apiError
			r := call(ctx, http.MethodPost, eventsPath, body, &e)
			Expect(r.Code).To(Equal(http.StatusBadRequest), r.Body)
			Expect(e.Error).To(Equal(wantErr), r.Body)
		}
		Expect(listEvents(ctx, url.Values{"service": {svc}})).To(BeEmpty(), "events of %s", svc)
	}, within)

	It("counts a service's events, from Redis until a write drops the count", func(ctx SpecContext) {
		svc := service("count")
		expectCount := func(n int64, cached bool) {
			GinkgoHelper()
			var c eventCount
			r := call(ctx, http.MethodGet, countPath+"?"+url.Values{"service": {svc}}.Encode(), "", &c)
			Expect(r.Code).To(Equal(http.StatusOK), r.Body)
			Expect(c).To(Equal(eventCount{Service: svc, Count: n, Cached: cached}), r.Body)
		}
		// Counted in PostgreSQL, then answered from Redis (for 30 s).
		expectCount(0, false)
		expectCount(0, true)
		for i := range 3 {
			postEvent(ctx, svc, fmt.Sprintf("count.action-%d", i))
		}
		expectCount(3, false)
		expectCount(3, true)
		postEvent(ctx, svc, "count.action-3")
		expectCount(4, false)

		var e apiError
		r := call(ctx, http.MethodGet, countPath, "", &e)
		Expect(r.Code).To(Equal(http.StatusBadRequest), r.Body)
		Expect(e.Error).To(Equal("service is required"), r.Body)
	}, within)
})

var _ = Describe("PostgreSQL, through its host port", func() {
	It("answers a PostgreSQL SSLRequest", func(ctx SpecContext) {
		// Docker's port proxy accepts a connection even when nothing
		// listens behind it: PostgreSQL's answer to the SSLRequest message
		// (Int32 8, Int32 80877103), one byte 'S' or 'N', shows it is there.
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(stk.Ports["postgresql"]))
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		Expect(err).NotTo(HaveOccurred())
		defer conn.Close()
		Expect(conn.SetDeadline(time.Now().Add(15 * time.Second))).To(Succeed())
		_, err = conn.Write([]byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f})
		Expect(err).NotTo(HaveOccurred(), "write an SSLRequest to %s", addr)
		answer := make([]byte, 1)
		_, err = io.ReadFull(conn, answer)
		Expect(err).NotTo(HaveOccurred(), "read PostgreSQL's answer from %s", addr)
		Expect(string(answer)).To(BeElementOf("S", "N"))
	}, within)
})

var _ = Describe("the stack's cluster, through its kubeconfig", func() {
	It("ran the migrations Job to completion", func(ctx SpecContext) {
		job, err := clientset.BatchV1().Jobs(stk.Namespace).Get(ctx, "datastorage-migrations", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(job.Status.Succeeded).To(BeNumerically(">=", 1))
		Expect(job.Status.Conditions).To(ContainElement(And(
			HaveField("Type", batchv1.JobComplete),
			HaveField("Status", corev1.ConditionTrue))))
	}, within)

	DescribeTable("runs the Deployment available, its replica ready",
		func(ctx SpecContext, name string) {
			d, err := clientset.AppsV1().Deployments(stk.Namespace).Get(ctx, name, metav1.GetOptions{})
			Expect(err).NotTo(HaveOccurred())
			Expect(d.Spec.Replicas).To(HaveValue(Equal(int32(1))))
			Expect(d.Status.ReadyReplicas).To(Equal(int32(1)))
			Expect(d.Status.Conditions).To(ContainElement(And(
				HaveField("Type", appsv1.DeploymentAvailable),
				HaveField("Status", corev1.ConditionTrue))))
		},
		EntryDescription("%s"),
		Entry(nil, "datastorage", within),
		Entry(nil, "postgresql", within),
		Entry(nil, "redis", within),
	)
})
