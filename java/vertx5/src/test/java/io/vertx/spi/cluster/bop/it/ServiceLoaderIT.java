package io.vertx.spi.cluster.bop.it;

import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.spi.VertxServiceProvider;
import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.spi.cluster.bop.BopClusterManager;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

import java.util.Collections;
import java.util.List;
import java.util.ServiceLoader;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

/**
 * The drop-in path: with no cluster manager given, {@code Vertx.clusteredVertx(new VertxOptions())}
 * finds {@link BopClusterManager} through {@code META-INF/services/io.vertx.core.spi.VertxServiceProvider},
 * configured by the system property {@code vertx.bop.clusterName} alone, and two such nodes form
 * one cluster whose event bus carries a request from one node to a consumer on the other.
 *
 * <p>Runs in the failsafe execution of the pom, on the packaged jar, with vertx-core's test-jar off
 * the class path: that jar registers {@code FakeClusterManager} as a service too, and would be
 * picked instead. The first check proves the class path is the one this test needs.
 */
public class ServiceLoaderIT {

  private static final String CLUSTER_NAME_PROPERTY = "vertx.bop.clusterName";

  private final Clusters clusters = new Clusters();
  private String clusterName;
  private String previousClusterName;

  @Before
  public void setUp() {
    clusterName = Clusters.uniqueName("service-loader");
    previousClusterName = System.getProperty(CLUSTER_NAME_PROPERTY);
    System.setProperty(CLUSTER_NAME_PROPERTY, clusterName);
  }

  @After
  public void tearDown() {
    try {
      clusters.closeAll();
    } finally {
      if (previousClusterName == null) {
        System.clearProperty(CLUSTER_NAME_PROPERTY);
      } else {
        System.setProperty(CLUSTER_NAME_PROPERTY, previousClusterName);
      }
    }
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

    Vertx a = clusters.track(Clusters.await(Vertx.clusteredVertx(new VertxOptions())));
    Vertx b = clusters.track(Clusters.await(Vertx.clusteredVertx(new VertxOptions())));

    for (Vertx v : new Vertx[]{a, b}) {
      ClusterManager cm = ((VertxInternal) v).clusterManager();
      assertTrue("cluster manager in use: " + cm, cm instanceof BopClusterManager);
      assertEquals(clusterName, ((BopClusterManager) cm).getOptions().getClusterName());
    }
    BopClusterManager cmA = Clusters.manager(a);
    BopClusterManager cmB = Clusters.manager(b);
    assertEquals("b's view right after its join", 2, cmB.getNodes().size());
    awaitMembers(cmA, 2);
    assertEquals(cmA.getNodes(), cmB.getNodes());

    Clusters.await(a.eventBus().<String>consumer("it.service-loader.echo",
      m -> m.reply(m.body() + " answered by " + cmA.getNodeId())).completion());
    String reply = Clusters.await(b.eventBus().<String>request("it.service-loader.echo", "ping")).body();
    assertEquals("ping answered by " + cmA.getNodeId(), reply);
  }

  private static void awaitMembers(BopClusterManager cm, int count) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(Clusters.TIMEOUT_SECONDS);
    while (cm.getNodes().size() != count && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertEquals("members seen by " + cm.getNodeId(), count, cm.getNodes().size());
  }
}
