package scalelogs;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.KeyStoreWrapper;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.http.BindHttpException;
import org.elasticsearch.http.HttpServerTransport;
import org.elasticsearch.node.ClasspathPluginsNode;
import org.elasticsearch.node.InternalSettingsPreparer;
import org.elasticsearch.node.Node;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.transport.BindTransportException;
import org.elasticsearch.transport.netty4.Netty4Plugin;

/**
 * Starts one real Elasticsearch node on loopback and keeps it running until the JVM is stopped.
 * Usage: EmbeddedElasticsearch HOME_DIR HTTP_PORT (0 picks a free port).
 * Once the node answers, its URL is written to HOME_DIR/http.url and printed.
 * When its HTTP or transport port is taken it prints one line, {@code scalelogs: http port taken: ...} or
 * {@code scalelogs: transport port taken: ...}, and exits with status {@value #PORT_TAKEN} (no stack trace):
 * scripts/elasticsearch then says what holds the port, or starts it on another one.
 *
 * Without system properties this is one unsecured single-node cluster. scripts/elasticsearch sets these for
 * its other modes (this class is compiled unchanged for Elasticsearch 8 and 9):
 * <ul>
 *   <li>{@code scalelogs.node.name}: node.name (default "embedded");</li>
 *   <li>{@code scalelogs.transport.port}: transport.port (default 0, any free port);</li>
 *   <li>{@code scalelogs.seed.hosts} and {@code scalelogs.initial.masters}: comma-separated transport addresses
 *       and (until the cluster first formed) the initial master nodes' names of a multi-node cluster; when
 *       set, discovery is not single-node;</li>
 *   <li>{@code scalelogs.security=true}: x-pack security with HTTPS from PEM files in HOME_DIR/config
 *       (ca.pem, node.pem, node.key), transport TLS too when multi-node. The {@code elastic} user's bootstrap
 *       password is read from the environment variable ES_BOOTSTRAP_PASSWORD into a fresh keystore;</li>
 *   <li>{@code scalelogs.plugins}: comma-separated classes of further plugins to load from the classpath
 *       (the x-pack plugins live in a separate build and are only named here);</li>
 *   <li>{@code es.setting.NAME=VALUE}: any further node setting NAME (e.g. es.setting.logger.level=info).</li>
 * </ul>
 */
public final class EmbeddedElasticsearch {
    static final int PORT_TAKEN = 75;

    public static void main(String[] args) throws Exception {
        Path home = Path.of(args[0]).toAbsolutePath();
        String port = args.length > 1 ? args[1] : "9200";
        Path config = home.resolve("config");
        Files.createDirectories(config);
        Files.deleteIfExists(home.resolve("http.url"));

        String seedHosts = System.getProperty("scalelogs.seed.hosts", "");
        boolean security = Boolean.parseBoolean(System.getProperty("scalelogs.security", "false"));

        Settings.Builder builder = Settings.builder()
            .put("path.home", home.toString())
            .put("path.data", home.resolve("data").toString())
            .put("path.logs", home.resolve("logs").toString())
            .put("cluster.name", "scalelogs-embedded")
            .put("node.name", System.getProperty("scalelogs.node.name", "embedded"));
        if (seedHosts.isEmpty()) {
            builder.put("discovery.type", "single-node");
        } else {
            builder.putList("discovery.seed_hosts", List.of(seedHosts.split(",")));
            String initialMasters = System.getProperty("scalelogs.initial.masters", "");
            if (initialMasters.isEmpty() == false) {
                builder.putList("cluster.initial_master_nodes", List.of(initialMasters.split(",")));
            }
        }
        builder.put("network.host", "127.0.0.1")
            .put("http.port", port)
            .put("transport.port", System.getProperty("scalelogs.transport.port", "0"));
        if (security) {
            // x-pack security replaces the netty4 transports with its own TLS-capable ones.
            builder.put("http.type", "security4")
                .put("transport.type", "security4")
                .put("xpack.security.enabled", true)
                .put("xpack.security.http.ssl.enabled", true)
                .put("xpack.security.http.ssl.key", "node.key")
                .put("xpack.security.http.ssl.certificate", "node.pem")
                .putList("xpack.security.http.ssl.certificate_authorities", "ca.pem")
                .put("xpack.license.self_generated.type", "basic");
            if (seedHosts.isEmpty() == false) {
                builder.put("xpack.security.transport.ssl.enabled", true)
                    .put("xpack.security.transport.ssl.verification_mode", "certificate")
                    .put("xpack.security.transport.ssl.key", "node.key")
                    .put("xpack.security.transport.ssl.certificate", "node.pem")
                    .putList("xpack.security.transport.ssl.certificate_authorities", "ca.pem");
            }
            builder.setSecureSettings(bootstrapKeystore(config));
        } else {
            builder.put("http.type", Netty4Plugin.NETTY_HTTP_TRANSPORT_NAME)
                .put("transport.type", Netty4Plugin.NETTY_TRANSPORT_NAME);
        }
        // A developer laptop or CI disk may be fuller than Elasticsearch's production watermarks.
        builder.put("cluster.routing.allocation.disk.threshold_enabled", false);
        // Any further node setting, e.g. -Des.setting.logger.level=info (ES_JAVA_OPTS in scripts/elasticsearch).
        System.getProperties().stringPropertyNames().stream().filter(name -> name.startsWith("es.setting."))
            .forEach(name -> builder.put(name.substring("es.setting.".length()), System.getProperty(name)));
        Settings settings = builder.build();

        LogConfigurator.loadLog4jPlugins();
        LogConfigurator.configureWithoutConfig(settings);

        List<Class<? extends Plugin>> plugins = new ArrayList<>(List.of(Netty4Plugin.class, RootInfoPlugin.class));
        for (String name : System.getProperty("scalelogs.plugins", "").split(",")) {
            if (name.isBlank() == false) {
                plugins.add(Class.forName(name.strip()).asSubclass(Plugin.class));
            }
        }
        String nodeName = settings.get("node.name");
        Node node = new ClasspathPluginsNode(
            InternalSettingsPreparer.prepareEnvironment(settings, Map.of(), config, () -> nodeName),
            plugins
        );
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }));
        try {
            node.start();
        } catch (BindHttpException | BindTransportException e) {
            // Another process took the port after scripts/elasticsearch found it free (or it was not checked).
            String which = e instanceof BindHttpException ? "http" : "transport";
            System.err.println("scalelogs: " + which + " port taken: " + e.getMessage());
            System.exit(PORT_TAKEN);  // the shutdown hook closes the half-started node
        }

        int boundPort = node.injector().getInstance(HttpServerTransport.class)
            .boundAddress().publishAddress().getPort();
        String url = (security ? "https" : "http") + "://127.0.0.1:" + boundPort;
        Path tmp = home.resolve("http.url.tmp");
        Files.writeString(tmp, url + "\n", StandardCharsets.UTF_8);
        Files.move(tmp, home.resolve("http.url"), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        System.out.println("Elasticsearch ready at " + url);
        stopped.await();
    }

    /**
     * Writes config/elasticsearch.keystore afresh with bootstrap.password (the elastic user's password until it
     * is changed through the API) and returns it loaded and decrypted, as the distribution's launcher would.
     */
    private static KeyStoreWrapper bootstrapKeystore(Path config) throws Exception {
        String password = System.getenv("ES_BOOTSTRAP_PASSWORD");
        if (password == null || password.isEmpty()) {
            throw new IllegalStateException("ES_BOOTSTRAP_PASSWORD must be set for a secured node");
        }
        KeyStoreWrapper created = KeyStoreWrapper.create();
        created.setString("bootstrap.password", password.toCharArray());
        created.save(config, new char[0]);
        KeyStoreWrapper loaded = KeyStoreWrapper.load(config);
        loaded.decrypt(new char[0]);
        return loaded;
    }
}
