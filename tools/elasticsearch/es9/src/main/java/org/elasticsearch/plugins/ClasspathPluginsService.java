package org.elasticsearch.plugins;

import java.lang.reflect.Constructor;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.elasticsearch.Build;
import org.elasticsearch.action.admin.cluster.node.info.PluginsAndModules;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.plugins.spi.SPIClassIterator;

/**
 * Plugins given as classes on the application classpath, for an embedded Elasticsearch 9 node (the distribution
 * loads them from plugin bundles in their own module layers; the test framework's equivalent is not published for
 * every 9.x version). It sits in Elasticsearch's package to build the package-private plugin records.
 *
 * All plugins share one class loader here, so service providers and extensions (META-INF/services) would be
 * found once per plugin by the stock lookup, and some providers accept only their own plugin as constructor
 * argument: each provider class is therefore created once, with the loaded plugin its constructor asks for
 * (or none), and providers of plugins that are not loaded are left out.
 */
public class ClasspathPluginsService extends PluginsService {
    private final List<LoadedPlugin> classpathPlugins;

    public ClasspathPluginsService(Settings settings, Environment environment, Collection<Class<? extends Plugin>> classes) {
        super(settings, environment.configDir(), new PluginsLoader(Set.of(), Set.of(), Map.of()));
        List<LoadedPlugin> loaded = new ArrayList<>();
        for (Class<? extends Plugin> type : classes) {
            Plugin plugin = loadPlugin(type, settings, environment.configDir());
            PluginDescriptor descriptor = new PluginDescriptor(
                type.getName(),
                "classpath plugin",
                "NA",
                Build.current().version(),
                Integer.toString(Runtime.version().feature()),
                type.getName(),
                null,
                List.of(),
                false,
                false,
                false,
                false
            );
            loaded.add(new LoadedPlugin(descriptor, plugin, type.getClassLoader()));
        }
        this.classpathPlugins = List.copyOf(loaded);
        for (LoadedPlugin plugin : classpathPlugins) {
            if (plugin.instance() instanceof ExtensiblePlugin extensible) {
                extensible.loadExtensions(new ExtensiblePlugin.ExtensionLoader() {
                    @Override
                    public <T> List<T> loadExtensions(Class<T> extensionPoint) {
                        return providers(extensionPoint);
                    }
                });
            }
        }
    }

    @Override
    protected final List<LoadedPlugin> plugins() {
        return classpathPlugins;
    }

    @Override
    public PluginsAndModules info() {
        return new PluginsAndModules(classpathPlugins.stream().map(p -> new PluginRuntimeInfo(p.descriptor())).toList(), List.of());
    }

    @Override
    public <T> List<? extends T> loadServiceProviders(Class<T> service) {
        return providers(service);
    }

    /** One instance of each provider class of the service on the classpath whose owning plugin (if any) is loaded. */
    private <T> List<T> providers(Class<T> service) {
        Map<Class<? extends T>, T> created = new LinkedHashMap<>();
        SPIClassIterator<T> classes = SPIClassIterator.get(service, ClasspathPluginsService.class.getClassLoader());
        while (classes.hasNext()) {
            Class<? extends T> type = classes.next();
            if (created.containsKey(type)) {
                continue;
            }
            // A provider takes its plugin, or nothing (some offer both: then the plugin). A provider whose plugin
            // is not loaded is skipped.
            Constructor<?> constructor = null;
            Object argument = null;
            boolean foreign = false;
            for (Constructor<?> candidate : type.getConstructors()) {
                if (candidate.getParameterCount() == 1) {
                    Class<?> wanted = candidate.getParameterTypes()[0];
                    Object plugin = classpathPlugins.stream().map(LoadedPlugin::instance).filter(wanted::isInstance).findFirst().orElse(null);
                    if (plugin != null) {
                        constructor = candidate;
                        argument = plugin;
                        break;
                    }
                    foreign |= Plugin.class.isAssignableFrom(wanted);
                } else if (candidate.getParameterCount() == 0 && constructor == null) {
                    constructor = candidate;
                }
            }
            if (argument == null && foreign) {
                continue;
            }
            if (constructor == null) {
                throw new IllegalStateException("provider [" + type.getName() + "] of [" + service.getName()
                    + "] has no public constructor taking nothing or a loaded plugin");
            }
            try {
                Object instance = argument == null ? constructor.newInstance() : constructor.newInstance(argument);
                created.put(type, service.cast(instance));
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("failed to create provider [" + type.getName() + "] of [" + service.getName() + "]", e);
            }
        }
        return List.copyOf(created.values());
    }
}
