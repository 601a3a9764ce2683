//! Which layer each parameter of a network belongs to, by its path in the module
//! (`layers.0.basal.weight`): the numbering `training.init_from`, `training.init_layers` and
//! `training.freeze` use.
//!
//! Layers are numbered as the config's `hidden` list, then the readout: on `ff` layer l is
//! `layers.l` (the readout is the last); on `gfn` layer l < L is hidden layer `layers.l` (basal
//! weights and bias, apical weights, apical prediction) and layer L the `readout`. A parameter's
//! slot is its layer and its name inside the layer with a gfn layer's `basal.` dropped, so the
//! basal weights and biases of ff and gfn networks share slots; a gfn's apical weights and
//! prediction have slots only a gfn fills.

use std::collections::BTreeMap;

/// A parameter's place: (layer, name inside the layer).
pub type LayerSlot = (usize, String);

/// Parameter paths → slots, given every path of one network (paths of no layer are left out).
pub fn layer_slots(paths: &[String]) -> BTreeMap<String, LayerSlot> {
    let layer_of = |p: &str| -> Option<usize> {
        p.strip_prefix("layers.")?
            .split('.')
            .next()?
            .parse::<usize>()
            .ok()
    };
    // The readout of a gfn sits above its hidden layers.
    let n_layers = paths
        .iter()
        .filter_map(|p| layer_of(p))
        .max()
        .map_or(0, |m| m + 1);
    paths
        .iter()
        .filter_map(|p| {
            let slot = if let Some(l) = layer_of(p) {
                let rest = p.splitn(3, '.').nth(2)?;
                (l, rest.strip_prefix("basal.").unwrap_or(rest).to_string())
            } else {
                (n_layers, p.strip_prefix("readout.")?.to_string())
            };
            Some((p.clone(), slot))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ndarray_device, FeedforwardParams, GfnParams};
    use burn::module::{Module, ModuleVisitor, Param};
    use burn::tensor::Tensor;

    /// Every float parameter's path in a module, as burn names it.
    #[derive(Default)]
    struct Paths {
        stack: Vec<String>,
        found: Vec<String>,
    }

    impl ModuleVisitor for Paths {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.stack.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.stack.pop();
        }
        fn visit_float<const D: usize>(&mut self, _param: &Param<Tensor<D>>) {
            self.found.push(self.stack.join("."));
        }
    }

    fn paths<M: Module>(net: &M) -> Vec<String> {
        let mut v = Paths::default();
        net.visit(&mut v);
        v.found
    }

    #[test]
    fn the_networks_own_parameter_names_map_to_their_layers() {
        let device = ndarray_device();
        let gfn = GfnParams::layers(vec![5, 4]).config(6, 3, 0).init(&device);
        let gfn_paths = paths(&gfn);
        let s = layer_slots(&gfn_paths);
        assert_eq!(s.len(), gfn_paths.len(), "every gfn parameter has a slot");
        assert_eq!(s["layers.0.basal.weight"], (0, "weight".into()));
        assert_eq!(s["layers.1.basal.bias"], (1, "bias".into()));
        assert_eq!(s["layers.0.apical_weight"], (0, "apical_weight".into()));
        assert_eq!(s["readout.weight"], (2, "weight".into()));
        let ff = FeedforwardParams::layers(vec![5, 4])
            .config(6, 3, 0)
            .init(&device);
        let ff_paths = paths(&ff);
        let f = layer_slots(&ff_paths);
        assert_eq!(f.len(), ff_paths.len(), "every ff parameter has a slot");
        assert_eq!(f["layers.0.weight"], (0, "weight".into()));
        assert_eq!(f["layers.2.bias"], (2, "bias".into()));
        // ff and gfn basal weights share their slots, layer by layer and for the readout.
        for l in 0..3 {
            let ff_slot = f.values().find(|(k, n)| *k == l && n == "weight");
            let gfn_slot = s.values().find(|(k, n)| *k == l && n == "weight");
            assert_eq!(ff_slot, gfn_slot, "layer {l}");
        }
    }
}
