package org.elasticsearch.node;

import java.util.Collection;

import org.elasticsearch.env.Environment;
import org.elasticsearch.plugins.MockPluginsService;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.plugins.PluginsLoader;
import org.elasticsearch.plugins.PluginsService;

/**
 * A real Elasticsearch node whose plugins come from the classpath, like the test framework's MockNode.
 * MockNode's public constructors initialise the randomized-testing bootstrap, which refuses to run as
 * root and installs test-only hooks; this class builds the same node without that bootstrap.
 * It lives in Elasticsearch's package because NodeConstruction and NodeServiceProvider are package-private.
 */
public class ClasspathPluginsNode extends Node {
    public ClasspathPluginsNode(Environment environment, Collection<Class<? extends Plugin>> plugins) {
        super(NodeConstruction.prepareConstruction(environment, null, new NodeServiceProvider() {
            @Override
            PluginsService newPluginService(Environment env, PluginsLoader loader) {
                return new MockPluginsService(env.settings(), env, plugins);
            }
        }, false));
    }
}
