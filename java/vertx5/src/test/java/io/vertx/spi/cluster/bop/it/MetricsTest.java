package io.vertx.spi.cluster.bop.it;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.shareddata.AsyncMap;
import io.vertx.micrometer.MicrometerMetricsOptions;
import io.vertx.micrometer.VertxPrometheusOptions;
import io.vertx.micrometer.backends.BackendRegistries;
import io.vertx.spi.cluster.bop.BopClusterManager;
import org.junit.After;
import org.junit.Test;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

/**
 * The manager's Micrometer metrics, read the way a monitoring system reads them: a Prometheus
 * scrape. Once bound by the application to its registry, and once bound by the manager itself to
 * the registry of Vert.x's Micrometer metrics.
 */
public class MetricsTest {

  private final Clusters clusters = new Clusters();

  @After
  public void tearDown() {
    clusters.closeAll();
  }

  @Test
  public void a_scrape_shows_membership_raft_progress_connections_and_request_timers() throws Exception {
    String name = Clusters.uniqueName("metrics");
    Vertx a = clusters.start(Clusters.options(name));
    Vertx b = clusters.start(Clusters.options(name));
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    BopClusterManager cmA = Clusters.manager(a);
    cmA.metrics().bindTo(registry);

    AsyncMap<String, String> map = Clusters.await(a.sharedData().<String, String>getAsyncMap("metrics"));
    for (int i = 0; i < 10; i++) {
      Clusters.await(map.put("k" + i, "v"));
    }
    Clusters.await(map.get("k1"));
    Clusters.await(Clusters.await(b.sharedData().getCounter("metrics")).incrementAndGet()); // b's: not a's

    String scrape = registry.scrape();
    String tags = "cluster=\"" + name + "\",node=\"" + cmA.getNodeId() + "\"";
    assertEquals(scrape, 2.0, value(scrape, "vertx_bop_members", tags), 0);
    assertEquals(scrape, 1.0, value(scrape, "vertx_bop_voters", tags), 0); // two members: one voter, one learner
    assertTrue(scrape, value(scrape, "vertx_bop_raft_term", tags) >= 1);
    double committed = value(scrape, "vertx_bop_raft_commit_index", tags);
    assertTrue(scrape, committed >= 10);
    assertTrue(scrape, value(scrape, "vertx_bop_raft_applied_index", tags) <= committed);
    assertEquals(scrape, 0.0, value(scrape, "vertx_bop_raft_leaderless", tags), 0);
    assertTrue(scrape, value(scrape, "vertx_bop_connections", "cluster=\"" + name + "\",direction=\"inbound\",node=\"" + cmA.getNodeId() + "\"") >= 1);
    assertTrue(scrape, value(scrape, "vertx_bop_frames_sent_total", tags) > 0);
    assertTrue(scrape, value(scrape, "vertx_bop_handshakes_total", "cluster=\"" + name + "\",node=\"" + cmA.getNodeId() + "\",outcome=\"accepted\"") >= 1);
    assertEquals(scrape, 0.0, value(scrape, "vertx_bop_frames_refused_total", "cluster=\"" + name + "\",node=\"" + cmA.getNodeId() + "\",reason=\"malformed\""), 0);
    String put = "cluster=\"" + name + "\",kind=\"map_put\",node=\"" + cmA.getNodeId() + "\",outcome=\"success\"";
    assertEquals(scrape, 10.0, value(scrape, "vertx_bop_requests_seconds_count", put), 0);
    assertTrue(scrape, value(scrape, "vertx_bop_requests_seconds_sum", put) > 0);
    assertTrue(scrape, value(scrape, "vertx_bop_requests_seconds_count", put.replace("map_put", "map_get")) >= 1);
    assertTrue(scrape, !scrape.contains("kind=\"counter_add_and_get\""));
    assertEquals(scrape, 0.0, value(scrape, "vertx_bop_requests_inflight", tags), 0);
  }

  @Test
  public void with_vertx_micrometer_metrics_the_manager_binds_itself_to_their_registry() throws Exception {
    String name = Clusters.uniqueName("metrics-vertx");
    MicrometerMetricsOptions metrics = new MicrometerMetricsOptions()
      .setPrometheusOptions(new VertxPrometheusOptions().setEnabled(true))
      .setRegistryName("bop-" + name)
      .setEnabled(true);
    Vertx a = clusters.track(Clusters.await(Vertx.builder()
      .with(new VertxOptions().setMetricsOptions(metrics))
      .withClusterManager(new BopClusterManager(Clusters.options(name)))
      .buildClustered()));
    PrometheusMeterRegistry registry = (PrometheusMeterRegistry) BackendRegistries.getNow("bop-" + name);
    assertNotNull(registry);
    Clusters.await(Clusters.await(a.sharedData().getCounter("c")).incrementAndGet());
    String scrape = registry.scrape();
    String tags = "cluster=\"" + name + "\",node=\"" + Clusters.manager(a).getNodeId() + "\"";
    assertEquals(scrape, 1.0, value(scrape, "vertx_bop_members", tags), 0);
    assertEquals(scrape, 1.0, value(scrape, "vertx_bop_leader", tags), 0);
    assertTrue(scrape, scrape.contains("kind=\"counter_add_and_get\""));
  }

  /** The value of the series {@code name{tags}} in a Prometheus text scrape. */
  private static double value(String scrape, String name, String tags) {
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name + "{" + tags + "}") + " (\\S+)$").matcher(scrape);
    assertTrue("no series " + name + "{" + tags + "} in\n" + scrape, m.find());
    return Double.parseDouble(m.group(1));
  }
}
