package io.vertx.spi.cluster.bop.it;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.impl.VertxInternal;
import io.vertx.core.spi.VertxServiceProvider;
import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.spi.cluster.bop.BopClusterManager;
import org.junit.After;
import org.junit.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.ServiceLoader;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

/**
 * The drop-in path on Vert.x 4.5: with no cluster manager given,
 * {@code Vertx.clusteredVertx(new VertxOptions())} finds {@link BopClusterManager} through
 * {@code META-INF/services/io.vertx.core.spi.VertxServiceProvider}, configured by the system
 * property {@code vertx.bop.clusterName} alone, and two such nodes form one cluster whose event
 * bus carries a request from one node to a consumer on the other.
 *
 * <p>Runs in the failsafe execution, on the packaged jars, with vertx-core's test-jar (which
 * registers {@code FakeClusterManager}) off the class path.
 */
public class ServiceLoaderIT {

  private static final String CLUSTER_NAME_PROPERTY = "vertx.bop.clusterName";

  private final List<Vertx> started = new ArrayList<>();

  private static <T> T await(Future<T> future) throws Exception {
    return future.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  @After
  public void tearDown() throws Exception {
    for (Vertx v : started) {
      await(v.close());
    }
    System.clearProperty(CLUSTER_NAME_PROPERTY);
  }

  @Test
  public void two_nodes_discovered_through_the_service_file_form_a_cluster() throws Exception {
    assertThrows("vertx-core's test-jar must be off this test's class path",
      ClassNotFoundException.class, () -> Class.forName("io.vertx.test.fakecluster.FakeClusterManager"));
    List<String> clusterManagers = ServiceLoader.load(VertxServiceProvider.class).stream()
      .map(ServiceLoader.Provider::type)
      .filter(ClusterManager.class::isAssignableFrom)
      .map(Class::getName)
      .collect(Collectors.toList());
    assertEquals(Collections.singletonList(BopClusterManager.class.getName()), clusterManagers);

    String clusterName = "service-loader4-" + UUID.randomUUID();
    System.setProperty(CLUSTER_NAME_PROPERTY, clusterName);
    Vertx a = await(Vertx.clusteredVertx(new VertxOptions()));
    started.add(a);
    Vertx b = await(Vertx.clusteredVertx(new VertxOptions()));
    started.add(b);

    for (Vertx v : started) {
      ClusterManager cm = ((VertxInternal) v).getClusterManager();
      assertTrue("cluster manager in use: " + cm, cm instanceof BopClusterManager);
      assertEquals(clusterName, ((BopClusterManager) cm).getOptions().getClusterName());
    }
    ClusterManager cmA = ((VertxInternal) a).getClusterManager();
    ClusterManager cmB = ((VertxInternal) b).getClusterManager();
    assertEquals("b's view right after its join", 2, cmB.getNodes().size());
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (cmA.getNodes().size() != 2 && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertEquals(cmA.getNodes(), cmB.getNodes());

    Promise<Void> registered = Promise.promise();
    a.eventBus().<String>consumer("it.service-loader.echo", m -> m.reply(m.body() + " answered by " + cmA.getNodeId()))
      .completionHandler(registered);
    await(registered.future());
    String reply = await(b.eventBus().<String>request("it.service-loader.echo", "ping")).body();
    assertEquals("ping answered by " + cmA.getNodeId(), reply);
  }
}
