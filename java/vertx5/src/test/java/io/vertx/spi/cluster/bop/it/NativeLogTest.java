package io.vertx.spi.cluster.bop.it;

import io.vertx.core.Vertx;
import io.vertx.spi.cluster.bop.impl.jni.NativeLog;
import org.junit.After;
import org.junit.Test;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

/**
 * The native core's log (its own records and raft's) reaches the application's logging, here JUL
 * through Vert.x's logging, from the native log thread, under the level the system property asks
 * for.
 */
public class NativeLogTest {

  private final Clusters clusters = new Clusters();
  private final Logger root = Logger.getLogger("io.vertx.spi.cluster.bop.native");
  private final List<String> seen = new CopyOnWriteArrayList<>();
  private final Handler capture = new Handler() {
    @Override
    public void publish(LogRecord record) {
      seen.add(Thread.currentThread().getName() + " " + record.getLevel() + " " + record.getLoggerName() + " " + record.getMessage());
    }

    @Override
    public void flush() {
    }

    @Override
    public void close() {
    }
  };
  private final String levelBefore = System.getProperty(NativeLog.LEVEL_PROPERTY);
  private final Level julBefore = root.getLevel();

  @After
  public void tearDown() {
    clusters.closeAll();
    root.removeHandler(capture);
    root.setLevel(julBefore);
    if (levelBefore == null) {
      System.clearProperty(NativeLog.LEVEL_PROPERTY);
    } else {
      System.setProperty(NativeLog.LEVEL_PROPERTY, levelBefore);
    }
  }

  @Test
  public void raft_info_records_reach_the_application_logging_from_the_native_log_thread() throws Exception {
    System.setProperty(NativeLog.LEVEL_PROPERTY, "info");
    root.setLevel(Level.INFO);
    root.addHandler(capture);
    Vertx vertx = clusters.start(Clusters.options(Clusters.uniqueName("native-log")));
    Clusters.await(Clusters.await(vertx.sharedData().getCounter("c")).incrementAndGet());
    long deadline = System.nanoTime() + Clusters.TIMEOUT_SECONDS * 1_000_000_000L;
    while (System.nanoTime() < deadline) {
      for (String line : seen) {
        if (line.startsWith("vertx-bop-log INFO io.vertx.spi.cluster.bop.native.raft")) {
          return;
        }
      }
      Thread.sleep(50);
    }
    fail("no raft info record from the native log thread; seen: " + seen);
  }

  @Test
  public void an_unknown_level_names_the_property_and_the_levels() throws Exception {
    System.setProperty(NativeLog.LEVEL_PROPERTY, "loud");
    Throwable failure = Clusters.failure(Vertx.builder()
      .withClusterManager(new io.vertx.spi.cluster.bop.BopClusterManager(Clusters.options(Clusters.uniqueName("native-log-bad")))).buildClustered());
    assertTrue(String.valueOf(failure), String.valueOf(failure).contains("vertx.bop.logLevel=loud is not a log level"));
  }
}
