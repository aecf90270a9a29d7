//! The one place that maps an explorer's name to its code (the command line and the bench use it;
//! each page is built for one explorer, and `www/boot.js` sends a link to its page by the name in
//! the site's navigation, which a test keeps equal to [`NAMES`]).

use td_attention::explorer::Attention;
use td_core::explorer::Explorer;
use td_energy::explorer::Energy;
use td_energy::scene::{Models, Trained};
use td_next_token::explorer::NextToken;
use td_next_token::whole::Whole;

/// Every explorer's link name, in site order.
pub const NAMES: &[&str] = &[NextToken::NAME, Attention::NAME, Energy::NAME];

/// What an explorer needs natively beyond the [`Explorer`] interface: its models, read from disk.
pub trait Native: Explorer {
    /// The models a scene of `st` needs, with a note for the reader if one is missing.
    fn native_models(st: &Self::State) -> (Self::Models, Option<String>);
}

impl Native for NextToken {
    /// A link's `vocab=` names a file in a browser's storage, which the command line cannot
    /// read: the scene runs on the link's tokens, and its note says why.
    fn native_models(st: &Self::State) -> (Whole, Option<String>) {
        if st.vocab.is_empty() {
            return (Whole::None, None);
        }
        let whole = Whole::Missing {
            id: st.vocab.clone(),
            reason: "the command line cannot read a browser's storage".into(),
        };
        (whole, None)
    }
}

impl Native for Attention {
    fn native_models(_: &Self::State) -> ((), Option<String>) {
        ((), None)
    }
}

impl Native for Energy {
    fn native_models(st: &Self::State) -> (Models, Option<String>) {
        let path = trained_weights_path();
        let trained = match std::fs::read(&path) {
            Ok(bytes) => match td_transformer::format::read_weights(&bytes) {
                Ok((w, _)) => Trained::Ready(std::rc::Rc::new(w)),
                Err(e) => Trained::Failed(format!("{}: {e}", path.display())),
            },
            Err(e) => Trained::Failed(format!("{}: {e}", path.display())),
        };
        let note = match &trained {
            Trained::Failed(e) => Some(format!(
                "trained weights not loaded ({e}); only the random model is drawn"
            )),
            _ => None,
        };
        (Models::new(trained, st.seed), note)
    }
}

/// Where the trained weights are: `TOKEN_DYNAMICS_WEIGHTS`, else `www/models/trained.tdgpt` in the
/// current directory, else in the source tree this binary was built from.
pub fn trained_weights_path() -> std::path::PathBuf {
    if let Some(path) = std::env::var_os("TOKEN_DYNAMICS_WEIGHTS") {
        return path.into();
    }
    let local = std::path::PathBuf::from(td_energy::scene::TRAINED_WEIGHTS);
    if local.exists() {
        return local;
    }
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(td_energy::scene::TRAINED_WEIGHTS)
}

/// Something done with one explorer, whichever it is.
pub trait Visit {
    type Output;
    fn visit<E: Native>(self) -> Self::Output;
}

/// Runs `visit` with the explorer named `name` (None for an unknown name).
pub fn dispatch<V: Visit>(name: &str, visit: V) -> Option<V::Output> {
    match name {
        NextToken::NAME => Some(visit.visit::<NextToken>()),
        Attention::NAME => Some(visit.visit::<Attention>()),
        Energy::NAME => Some(visit.visit::<Energy>()),
        _ => None,
    }
}

/// The figure names of the explorer named `name`.
pub fn figure_names(name: &str) -> Vec<&'static str> {
    struct Figures;
    impl Visit for Figures {
        type Output = Vec<&'static str>;
        fn visit<E: Native>(self) -> Vec<&'static str> {
            E::figures().iter().map(|f| f.name).collect()
        }
    }
    dispatch(name, Figures).unwrap_or_default()
}
