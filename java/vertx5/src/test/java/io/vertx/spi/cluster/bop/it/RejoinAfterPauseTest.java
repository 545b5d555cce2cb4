package io.vertx.spi.cluster.bop.it;

import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.shareddata.Lock;
import io.vertx.spi.cluster.bop.BopClusterManager;
import io.vertx.spi.cluster.bop.BopLock;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.After;
import org.junit.Test;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

/**
 * A real process paused longer than the failure timeout (SIGSTOP, then SIGCONT): the others
 * declare it dead (Vert.x HA on them fails it over and removes its HA entry), and when it runs
 * again it rejoins by itself. Its event-bus consumer receives messages again without the
 * application doing anything, under the same node id, its HA entry is back, and a lock it held
 * while paused went to another node for good.
 */
public class RejoinAfterPauseTest {

  static final String ADDRESS = "rejoin.echo";
  static final String LOCK = "rejoin.lock";
  static final long FAILURE_TIMEOUT_MS = 2000;
  static final String HA_MAP = "__vertx.haInfo";

  private final Clusters clusters = new Clusters();
  private Process child;

  @After
  public void tearDown() {
    if (child != null) {
      signal("CONT");
      child.destroyForcibly();
    }
    clusters.closeAll();
  }

  @Test
  public void a_paused_node_rejoins_and_its_consumer_gets_messages_again() throws Exception {
    String cluster = Clusters.uniqueName("rejoin");
    Vertx a = startWithHa(cluster);
    Vertx b = startWithHa(cluster);
    Map<String, String> haInfo = Clusters.manager(a).getSyncMap(HA_MAP);
    child = startChild(cluster);
    String childId = readLine("READY ");
    waitFor("three members", () -> Clusters.manager(a).getNodes().size() == 3);
    waitFor("the child's HA entry", () -> haInfo.containsKey(childId));
    assertEquals("the child answers", childId, echo(a));

    signal("STOP");
    long stopped = System.nanoTime();
    waitFor("the paused node declared dead", () -> !Clusters.manager(a).getNodes().contains(childId));
    assertTrue("declared dead only after the failure timeout",
      System.nanoTime() - stopped >= TimeUnit.MILLISECONDS.toNanos(FAILURE_TIMEOUT_MS - 100));
    waitFor("its HA entry removed by the failover", () -> !haInfo.containsKey(childId));
    Lock lock = Clusters.await(b.sharedData().getLockWithTimeout(LOCK, 10_000));
    assertNotNull("the paused node's lock was released when it was declared dead", lock);

    signal("CONT");
    waitFor("the node back among the members", () -> Clusters.manager(a).getNodes().contains(childId)
      && Clusters.manager(b).getNodes().contains(childId));
    String answer = null;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(Clusters.TIMEOUT_SECONDS);
    while (answer == null && System.nanoTime() < deadline) {
      try {
        answer = echo(a);
      } catch (Exception noHandlerYet) {
        Thread.sleep(50);
      }
    }
    assertEquals("the consumer on the rejoined node receives messages again, under its node id", childId, answer);
    waitFor("its HA entry written back", () -> haInfo.containsKey(childId));
    assertEquals("the lock it held is lost", "lost", readLine("LOCK "));
    assertTrue(((BopLock) lock).isHeld());
    lock.release();
    assertEquals(Clusters.manager(a).getNodes(), Clusters.manager(b).getNodes());
  }

  private Vertx startWithHa(String cluster) throws Exception {
    return clusters.track(Clusters.await(Vertx.builder()
      .with(new VertxOptions().setHAEnabled(true))
      .withClusterManager(new BopClusterManager(Clusters.options(cluster)))
      .buildClustered()));
  }

  private static String echo(Vertx from) throws Exception {
    Message<String> reply = Clusters.await(from.eventBus().request(ADDRESS, "ping", new DeliveryOptions().setSendTimeout(2000)));
    return reply.body();
  }

  private interface Check {
    boolean ok() throws Exception;
  }

  private static void waitFor(String what, Check check) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(Clusters.TIMEOUT_SECONDS);
    while (!check.ok()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for " + what);
      }
      Thread.sleep(20);
    }
  }

  private BufferedReader output;

  private Process startChild(String cluster) throws Exception {
    Process process = Clusters.startJvm(Child.class, cluster);
    output = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    return process;
  }

  /** The rest of the child's first output line that starts with {@code prefix}. */
  private String readLine(String prefix) throws Exception {
    StringBuilder seen = new StringBuilder();
    String line;
    while ((line = output.readLine()) != null) {
      if (line.startsWith(prefix)) {
        return line.substring(prefix.length());
      }
      seen.append(line).append('\n');
    }
    throw new AssertionError("the child ended before printing " + prefix + "; its output:\n" + seen);
  }

  private void signal(String signal) {
    try {
      Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(child.pid())).inheritIO().start();
      assertTrue(kill.waitFor(10, TimeUnit.SECONDS));
      assertEquals("kill -" + signal, 0, kill.exitValue());
    } catch (Exception e) {
      throw new AssertionError("cannot send SIG" + signal + " to the child", e);
    }
  }

  /**
   * The child JVM: joins, answers on {@value #ADDRESS} with its node id, takes {@value #LOCK},
   * and once it has rejoined after its pause says whether the lock is still held ("lost" when
   * the cluster took it away).
   */
  public static final class Child {

    private Child() {
    }

    public static void main(String[] args) throws Exception {
      Vertx vertx = Clusters.await(Vertx.builder()
        .with(new VertxOptions().setHAEnabled(true))
        .withClusterManager(new BopClusterManager(Clusters.options(args[0])))
        .buildClustered());
      BopClusterManager manager = Clusters.manager(vertx);
      vertx.eventBus().<String>consumer(ADDRESS, m -> m.reply(manager.getNodeId()));
      BopLock lock = (BopLock) Clusters.await(vertx.sharedData().getLock(LOCK));
      System.out.println("READY " + manager.getNodeId());
      System.out.flush();
      while (manager.incarnation() == 0) {
        Thread.sleep(20);
      }
      lock.release();
      System.out.println("LOCK " + (lock.isHeld() ? "held" : "lost"));
      System.out.flush();
      Thread.sleep(Long.MAX_VALUE);
    }
  }
}
