package io.vertx.spi.cluster.bop.it;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.internal.VertxInternal;
import io.vertx.spi.cluster.bop.BopClusterManager;
import io.vertx.spi.cluster.bop.BopClusterOptions;
import io.vertx.spi.cluster.bop.impl.BopGateway;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Helpers for the tests of this package (not a test itself): a cluster name of their own for every
 * test, so no two tests' nodes find each other through local discovery; blocking waits with a
 * bound; and closing every node a test started, whatever happened.
 */
final class Clusters {

  /** How long any single wait of these tests may take. */
  static final long TIMEOUT_SECONDS = 30;

  private final List<Vertx> started = new ArrayList<>();

  /** A cluster name no other test uses. */
  static String uniqueName(String test) {
    return "it-" + test + "-" + UUID.randomUUID();
  }

  /** Options for a test's cluster: its own name, a failure timeout short enough for tests. */
  static BopClusterOptions options(String clusterName) {
    return new BopClusterOptions().setClusterName(clusterName).setFailureTimeout(2000);
  }

  /** Starts a clustered Vert.x on a {@link BopClusterManager} with {@code options}; closed by {@link #closeAll}. */
  Vertx start(BopClusterOptions options) throws Exception {
    return track(await(Vertx.builder().withClusterManager(new BopClusterManager(options)).buildClustered()));
  }

  /**
   * Starts a child JVM running {@code main} with {@code arg}, on this JVM's class path, its
   * standard error merged into its output and its input closed.
   */
  static Process startJvm(Class<?> main, String arg) throws java.io.IOException {
    List<String> command = new ArrayList<>();
    command.add(java.nio.file.Paths.get(System.getProperty("java.home"), "bin", "java").toString());
    command.add("-Xmx256m");
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(main.getName());
    command.add(arg);
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    process.getOutputStream().close();
    return process;
  }

  /** Remembers a node to close in {@link #closeAll}. */
  Vertx track(Vertx vertx) {
    started.add(vertx);
    return vertx;
  }

  /** Closes every node started or tracked, newest first, ignoring failures. */
  void closeAll() {
    for (int i = started.size() - 1; i >= 0; i--) {
      try {
        await(started.get(i).close());
      } catch (Exception ignored) {
        // Best effort: the test's own outcome is what matters.
      }
    }
    started.clear();
  }

  /** The cluster manager a clustered Vert.x runs on. */
  static BopClusterManager manager(Vertx vertx) {
    return (BopClusterManager) ((VertxInternal) vertx).clusterManager();
  }

  /** The result of {@code future}, waiting at most {@link #TIMEOUT_SECONDS}; a failure is rethrown as is. */
  static <T> T await(Future<T> future) throws Exception {
    try {
      return future.toCompletionStage().toCompletableFuture().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      Throwable cause = BopGateway.unwrap(e.getCause());
      if (cause instanceof Exception) {
        throw (Exception) cause;
      }
      throw e;
    }
  }

  /** The failure of {@code future}, waiting at most {@link #TIMEOUT_SECONDS}; an error if it succeeds. */
  static Throwable failure(Future<?> future) throws Exception {
    Object value;
    try {
      value = future.toCompletionStage().toCompletableFuture().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      return BopGateway.unwrap(e.getCause());
    }
    throw new AssertionError("expected the future to fail, it succeeded with " + value);
  }
}
