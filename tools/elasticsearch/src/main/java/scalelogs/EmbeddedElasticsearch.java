package scalelogs;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.http.HttpServerTransport;
import org.elasticsearch.node.ClasspathPluginsNode;
import org.elasticsearch.node.InternalSettingsPreparer;
import org.elasticsearch.node.Node;
import org.elasticsearch.transport.netty4.Netty4Plugin;

/**
 * Starts one real Elasticsearch node on loopback and keeps it running until the JVM is stopped.
 * Usage: EmbeddedElasticsearch HOME_DIR HTTP_PORT (0 picks a free port).
 * Once the node answers, its URL is written to HOME_DIR/http.url and printed.
 */
public final class EmbeddedElasticsearch {
    public static void main(String[] args) throws Exception {
        Path home = Path.of(args[0]).toAbsolutePath();
        String port = args.length > 1 ? args[1] : "9200";
        Files.createDirectories(home.resolve("config"));
        Files.deleteIfExists(home.resolve("http.url"));

        Settings settings = Settings.builder()
            .put("path.home", home.toString())
            .put("path.data", home.resolve("data").toString())
            .put("path.logs", home.resolve("logs").toString())
            .put("cluster.name", "scalelogs-embedded")
            .put("node.name", "embedded")
            .put("discovery.type", "single-node")
            .put("network.host", "127.0.0.1")
            .put("http.port", port)
            .put("transport.port", "0")
            .put("http.type", Netty4Plugin.NETTY_HTTP_TRANSPORT_NAME)
            .put("transport.type", Netty4Plugin.NETTY_TRANSPORT_NAME)
            // A developer laptop or CI disk may be fuller than Elasticsearch's production watermarks.
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .build();

        LogConfigurator.loadLog4jPlugins();
        LogConfigurator.configureWithoutConfig(settings);

        Node node = new ClasspathPluginsNode(
            InternalSettingsPreparer.prepareEnvironment(settings, Map.of(), home.resolve("config"), () -> "embedded"),
            List.of(Netty4Plugin.class, RootInfoPlugin.class)
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
        node.start();

        int boundPort = node.injector().getInstance(HttpServerTransport.class)
            .boundAddress().publishAddress().getPort();
        String url = "http://127.0.0.1:" + boundPort;
        Path tmp = home.resolve("http.url.tmp");
        Files.writeString(tmp, url + "\n", StandardCharsets.UTF_8);
        Files.move(tmp, home.resolve("http.url"), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        System.out.println("Elasticsearch ready at " + url);
        stopped.await();
    }
}
