package io.vertx.spi.cluster.bop.impl;

import java.util.function.Function;
import java.util.logging.Level;

/**
 * The logger of the classes shared by both Vert.x lines. Vert.x 4 and 5 keep their logging
 * facade in different internal packages, so each line's {@code BopClusterManager} installs a
 * backend that writes through its Vert.x logging (and so through whatever the application
 * configured: JUL, SLF4J, Log4j 2); until one is installed, records go to
 * {@code java.util.logging}. A logger resolves its backend at its first record, so a static
 * logger made before the manager class loaded still writes through Vert.x's logging.
 */
public abstract class BopLog {

  /** The backends a Vert.x line provides: a logger for a name. */
  private static volatile Function<String, BopLog> backend = Jul::new;

  /** Installs the Vert.x line's logging; called by {@code BopClusterManager} when its class loads. */
  public static void install(Function<String, BopLog> loggers) {
    backend = loggers;
  }

  /** A logger named after {@code type}, resolved at its first record. */
  public static BopLog get(Class<?> type) {
    return get(type.getName());
  }

  /** A logger of that name, resolved at its first record. */
  public static BopLog get(String name) {
    return new Lazy(name);
  }

  public abstract boolean isDebugEnabled();

  public abstract void debug(String message);

  public abstract void info(String message);

  public abstract void warn(String message, Throwable failure);

  public abstract void error(String message, Throwable failure);

  public void warn(String message) {
    warn(message, null);
  }

  public void error(String message) {
    error(message, null);
  }

  private static final class Lazy extends BopLog {
    private final String name;
    private volatile BopLog delegate;

    Lazy(String name) {
      this.name = name;
    }

    private BopLog delegate() {
      BopLog d = delegate;
      if (d == null) {
        d = backend.apply(name);
        delegate = d;
      }
      return d;
    }

    @Override
    public boolean isDebugEnabled() {
      return delegate().isDebugEnabled();
    }

    @Override
    public void debug(String message) {
      delegate().debug(message);
    }

    @Override
    public void info(String message) {
      delegate().info(message);
    }

    @Override
    public void warn(String message, Throwable failure) {
      delegate().warn(message, failure);
    }

    @Override
    public void error(String message, Throwable failure) {
      delegate().error(message, failure);
    }
  }

  private static final class Jul extends BopLog {
    private final java.util.logging.Logger logger;

    Jul(String name) {
      logger = java.util.logging.Logger.getLogger(name);
    }

    @Override
    public boolean isDebugEnabled() {
      return logger.isLoggable(Level.FINE);
    }

    @Override
    public void debug(String message) {
      logger.log(Level.FINE, message);
    }

    @Override
    public void info(String message) {
      logger.log(Level.INFO, message);
    }

    @Override
    public void warn(String message, Throwable failure) {
      logger.log(Level.WARNING, message, failure);
    }

    @Override
    public void error(String message, Throwable failure) {
      logger.log(Level.SEVERE, message, failure);
    }
  }
}
