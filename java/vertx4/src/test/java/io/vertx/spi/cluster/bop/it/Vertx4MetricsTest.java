package io.vertx.spi.cluster.bop.it;

import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.spi.cluster.bop.BopClusterManager;
import io.vertx.spi.cluster.bop.BopClusterOptions;
import org.junit.After;
import org.junit.Test;

import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

/** On Vert.x 4.5 too, the manager's meters go to the registry the application binds them to. */
public class Vertx4MetricsTest {

  private Vertx vertx;

  @After
  public void tearDown() throws Exception {
    if (vertx != null) {
      await(vertx.close());
    }
  }

  @Test
  public void the_meters_read_the_node_and_time_its_requests() throws Exception {
    String cluster = "it-metrics4-" + UUID.randomUUID();
    BopClusterManager manager = new BopClusterManager(new BopClusterOptions().setClusterName(cluster));
    vertx = await(Vertx.clusteredVertx(new VertxOptions().setClusterManager(manager)));
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    manager.metrics().bindTo(registry);
    await(await(vertx.sharedData().getCounter("c")).incrementAndGet());

    assertEquals(1.0, registry.get("vertx.bop.members").tag("cluster", cluster).tag("node", manager.getNodeId()).gauge().value(), 0);
    assertEquals(1.0, registry.get("vertx.bop.leader").gauge().value(), 0);
    assertTrue(registry.get("vertx.bop.raft.commit.index").gauge().value() >= 1);
    Timer adds = registry.get("vertx.bop.requests").tag("kind", "counter_add_and_get").tag("outcome", "success").timer();
    assertNotNull(adds);
    assertEquals(1, adds.count());
    assertTrue(adds.totalTime(TimeUnit.NANOSECONDS) > 0);
  }

  private static <T> T await(Future<T> future) throws Exception {
    return future.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }
}
