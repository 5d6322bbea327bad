//! The starter catalog's names in German, Polish and Russian (English is the options' own name, the default
//! locale of a fresh deployment): every category, subcategory and country, and the cities whose name differs
//! in those languages (exonyms: Warszawa is Warschau in German, Варшава in Russian). Cities keep their local
//! spelling as their own name.

use crate::ports::catalog::OptionKind;

/// One option's translations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedTranslation {
    /// The option's kind.
    pub kind: OptionKind,
    /// Its parent's name (child kinds).
    pub parent: Option<&'static str>,
    /// Its own name (as in `seed::OPTIONS`).
    pub name: &'static str,
    /// (locale, name) pairs.
    pub names: &'static [(&'static str, &'static str)],
}

const fn category(name: &'static str, names: &'static [(&'static str, &'static str)]) -> SeedTranslation {
    SeedTranslation { kind: OptionKind::Category, parent: None, name, names }
}

const fn sub(
    parent: &'static str,
    name: &'static str,
    names: &'static [(&'static str, &'static str)],
) -> SeedTranslation {
    SeedTranslation { kind: OptionKind::Subcategory, parent: Some(parent), name, names }
}

const fn country(name: &'static str, names: &'static [(&'static str, &'static str)]) -> SeedTranslation {
    SeedTranslation { kind: OptionKind::Country, parent: None, name, names }
}

const fn city(
    parent: &'static str,
    name: &'static str,
    names: &'static [(&'static str, &'static str)],
) -> SeedTranslation {
    SeedTranslation { kind: OptionKind::City, parent: Some(parent), name, names }
}

/// The locales every category, subcategory and country is translated into.
pub const LOCALES: [&str; 3] = ["de", "pl", "ru"];

/// The translations.
pub const TRANSLATIONS: &[SeedTranslation] = &[
    // Categories.
    category("Trucks", &[("de", "Lkw"), ("pl", "Ciężarówki"), ("ru", "Грузовики")]),
    category("Tractor units", &[("de", "Sattelzugmaschinen"), ("pl", "Ciągniki siodłowe"), ("ru", "Седельные тягачи")]),
    category("Semi-trailers", &[("de", "Sattelauflieger"), ("pl", "Naczepy"), ("ru", "Полуприцепы")]),
    category("Trailers", &[("de", "Anhänger"), ("pl", "Przyczepy"), ("ru", "Прицепы")]),
    category("Vans", &[("de", "Transporter"), ("pl", "Samochody dostawcze"), ("ru", "Фургоны")]),
    category("Buses", &[("de", "Busse"), ("pl", "Autobusy"), ("ru", "Автобусы")]),
    category(
        "Agricultural machinery",
        &[("de", "Landmaschinen"), ("pl", "Maszyny rolnicze"), ("ru", "Сельскохозяйственная техника")],
    ),
    category("Tractors", &[("de", "Traktoren"), ("pl", "Ciągniki rolnicze"), ("ru", "Тракторы")]),
    category(
        "Construction machinery",
        &[("de", "Baumaschinen"), ("pl", "Maszyny budowlane"), ("ru", "Строительная техника")],
    ),
    category("Forklifts", &[("de", "Gabelstapler"), ("pl", "Wózki widłowe"), ("ru", "Вилочные погрузчики")]),
    category("Cranes", &[("de", "Krane"), ("pl", "Dźwigi"), ("ru", "Краны")]),
    category(
        "Forestry machinery",
        &[("de", "Forstmaschinen"), ("pl", "Maszyny leśne"), ("ru", "Лесозаготовительная техника")],
    ),
    category("Containers", &[("de", "Container"), ("pl", "Kontenery"), ("ru", "Контейнеры")]),
    // Subcategories: trucks.
    sub("Trucks", "Tipper trucks", &[("de", "Kipper"), ("pl", "Wywrotki"), ("ru", "Самосвалы")]),
    sub(
        "Trucks",
        "Box trucks",
        &[("de", "Koffer-Lkw"), ("pl", "Ciężarówki z zabudową kontenerową"), ("ru", "Грузовики-фургоны")],
    ),
    sub(
        "Trucks",
        "Curtainsider trucks",
        &[("de", "Planen-Lkw"), ("pl", "Ciężarówki z plandeką"), ("ru", "Тентованные грузовики")],
    ),
    sub(
        "Trucks",
        "Refrigerated trucks",
        &[("de", "Kühlkoffer-Lkw"), ("pl", "Ciężarówki chłodnie"), ("ru", "Грузовики-рефрижераторы")],
    ),
    sub("Trucks", "Tank trucks", &[("de", "Tankwagen"), ("pl", "Cysterny"), ("ru", "Автоцистерны")]),
    sub("Trucks", "Car transporters", &[("de", "Autotransporter"), ("pl", "Autotransportery"), ("ru", "Автовозы")]),
    sub(
        "Trucks",
        "Flatbed trucks",
        &[("de", "Pritschen-Lkw"), ("pl", "Ciężarówki skrzyniowe"), ("ru", "Бортовые грузовики")],
    ),
    sub("Trucks", "Hook lift trucks", &[("de", "Abrollkipper"), ("pl", "Hakowce"), ("ru", "Мультилифты")]),
    // Tractor units.
    sub(
        "Tractor units",
        "Standard tractor units",
        &[
            ("de", "Standard-Sattelzugmaschinen"),
            ("pl", "Standardowe ciągniki siodłowe"),
            ("ru", "Стандартные седельные тягачи"),
        ],
    ),
    sub(
        "Tractor units",
        "Low deck tractor units",
        &[
            ("de", "Low-Deck-Sattelzugmaschinen"),
            ("pl", "Ciągniki siodłowe low deck"),
            ("ru", "Низкорамные седельные тягачи"),
        ],
    ),
    sub(
        "Tractor units",
        "Heavy haulage tractor units",
        &[
            ("de", "Schwerlast-Sattelzugmaschinen"),
            ("pl", "Ciągniki siodłowe do transportu ciężkiego"),
            ("ru", "Тягачи для тяжеловесных перевозок"),
        ],
    ),
    sub(
        "Tractor units",
        "ADR tractor units",
        &[("de", "ADR-Sattelzugmaschinen"), ("pl", "Ciągniki siodłowe ADR"), ("ru", "Седельные тягачи ADR")],
    ),
    // Semi-trailers.
    sub(
        "Semi-trailers",
        "Curtainsider semi-trailers",
        &[("de", "Planenauflieger"), ("pl", "Naczepy firanki"), ("ru", "Шторные полуприцепы")],
    ),
    sub(
        "Semi-trailers",
        "Refrigerated semi-trailers",
        &[("de", "Kühlauflieger"), ("pl", "Naczepy chłodnie"), ("ru", "Полуприцепы-рефрижераторы")],
    ),
    sub(
        "Semi-trailers",
        "Tipper semi-trailers",
        &[("de", "Kippauflieger"), ("pl", "Naczepy wywrotki"), ("ru", "Полуприцепы-самосвалы")],
    ),
    sub(
        "Semi-trailers",
        "Low loader semi-trailers",
        &[("de", "Tiefladeauflieger"), ("pl", "Naczepy niskopodwoziowe"), ("ru", "Низкорамные полуприцепы")],
    ),
    sub(
        "Semi-trailers",
        "Tank semi-trailers",
        &[("de", "Tankauflieger"), ("pl", "Naczepy cysterny"), ("ru", "Полуприцепы-цистерны")],
    ),
    sub(
        "Semi-trailers",
        "Container chassis",
        &[("de", "Containerchassis"), ("pl", "Naczepy podkontenerowe"), ("ru", "Полуприцепы-контейнеровозы")],
    ),
    sub(
        "Semi-trailers",
        "Walking floor semi-trailers",
        &[("de", "Schubbodenauflieger"), ("pl", "Naczepy z ruchomą podłogą"), ("ru", "Полуприцепы с подвижным полом")],
    ),
    // Trailers.
    sub(
        "Trailers",
        "Curtainsider trailers",
        &[("de", "Planenanhänger"), ("pl", "Przyczepy firanki"), ("ru", "Шторные прицепы")],
    ),
    sub(
        "Trailers",
        "Tipper trailers",
        &[("de", "Kippanhänger"), ("pl", "Przyczepy wywrotki"), ("ru", "Прицепы-самосвалы")],
    ),
    sub(
        "Trailers",
        "Low loader trailers",
        &[("de", "Tiefladeanhänger"), ("pl", "Przyczepy niskopodwoziowe"), ("ru", "Низкорамные прицепы")],
    ),
    sub(
        "Trailers",
        "Flatbed trailers",
        &[("de", "Pritschenanhänger"), ("pl", "Przyczepy skrzyniowe"), ("ru", "Бортовые прицепы")],
    ),
    sub(
        "Trailers",
        "Car transporter trailers",
        &[("de", "Autotransportanhänger"), ("pl", "Przyczepy do przewozu samochodów"), ("ru", "Прицепы-автовозы")],
    ),
    sub(
        "Trailers",
        "Agricultural trailers",
        &[("de", "Landwirtschaftliche Anhänger"), ("pl", "Przyczepy rolnicze"), ("ru", "Сельскохозяйственные прицепы")],
    ),
    // Vans.
    sub("Vans", "Panel vans", &[("de", "Kastenwagen"), ("pl", "Furgony"), ("ru", "Цельнометаллические фургоны")]),
    sub(
        "Vans",
        "Refrigerated vans",
        &[("de", "Kühltransporter"), ("pl", "Dostawcze chłodnie"), ("ru", "Фургоны-рефрижераторы")],
    ),
    sub(
        "Vans",
        "Box vans",
        &[("de", "Koffertransporter"), ("pl", "Dostawcze z zabudową kontenerową"), ("ru", "Промтоварные фургоны")],
    ),
    sub(
        "Vans",
        "Dropside vans",
        &[("de", "Pritschenwagen"), ("pl", "Dostawcze skrzyniowe"), ("ru", "Бортовые автомобили")],
    ),
    sub(
        "Vans",
        "Crew vans",
        &[("de", "Doppelkabinen-Transporter"), ("pl", "Brygadówki"), ("ru", "Грузопассажирские фургоны")],
    ),
    sub(
        "Vans",
        "Tipper vans",
        &[("de", "Kipper-Transporter"), ("pl", "Dostawcze wywrotki"), ("ru", "Малотоннажные самосвалы")],
    ),
    // Buses.
    sub("Buses", "City buses", &[("de", "Stadtbusse"), ("pl", "Autobusy miejskie"), ("ru", "Городские автобусы")]),
    sub("Buses", "Coaches", &[("de", "Reisebusse"), ("pl", "Autokary"), ("ru", "Туристические автобусы")]),
    sub(
        "Buses",
        "Intercity buses",
        &[("de", "Überlandbusse"), ("pl", "Autobusy międzymiastowe"), ("ru", "Междугородные автобусы")],
    ),
    sub("Buses", "Minibuses", &[("de", "Kleinbusse"), ("pl", "Minibusy"), ("ru", "Микроавтобусы")]),
    sub(
        "Buses",
        "Double-decker buses",
        &[("de", "Doppeldeckerbusse"), ("pl", "Autobusy piętrowe"), ("ru", "Двухэтажные автобусы")],
    ),
    // Agricultural machinery.
    sub(
        "Agricultural machinery",
        "Combine harvesters",
        &[("de", "Mähdrescher"), ("pl", "Kombajny zbożowe"), ("ru", "Зерноуборочные комбайны")],
    ),
    sub(
        "Agricultural machinery",
        "Forage harvesters",
        &[("de", "Feldhäcksler"), ("pl", "Sieczkarnie samojezdne"), ("ru", "Кормоуборочные комбайны")],
    ),
    sub(
        "Agricultural machinery",
        "Balers",
        &[("de", "Ballenpressen"), ("pl", "Prasy belujące"), ("ru", "Пресс-подборщики")],
    ),
    sub("Agricultural machinery", "Mowers", &[("de", "Mähwerke"), ("pl", "Kosiarki"), ("ru", "Косилки")]),
    sub(
        "Agricultural machinery",
        "Sprayers",
        &[("de", "Feldspritzen"), ("pl", "Opryskiwacze"), ("ru", "Опрыскиватели")],
    ),
    sub("Agricultural machinery", "Seed drills", &[("de", "Sämaschinen"), ("pl", "Siewniki"), ("ru", "Сеялки")]),
    sub("Agricultural machinery", "Ploughs", &[("de", "Pflüge"), ("pl", "Pługi"), ("ru", "Плуги")]),
    // Tractors.
    sub(
        "Tractors",
        "Wheeled tractors",
        &[("de", "Radtraktoren"), ("pl", "Ciągniki kołowe"), ("ru", "Колёсные тракторы")],
    ),
    sub(
        "Tractors",
        "Crawler tractors",
        &[("de", "Raupentraktoren"), ("pl", "Ciągniki gąsienicowe"), ("ru", "Гусеничные тракторы")],
    ),
    sub(
        "Tractors",
        "Compact tractors",
        &[("de", "Kompakttraktoren"), ("pl", "Ciągniki kompaktowe"), ("ru", "Компактные тракторы")],
    ),
    sub(
        "Tractors",
        "Vineyard tractors",
        &[("de", "Weinbergtraktoren"), ("pl", "Ciągniki winnicze"), ("ru", "Виноградниковые тракторы")],
    ),
    // Construction machinery.
    sub("Construction machinery", "Excavators", &[("de", "Bagger"), ("pl", "Koparki"), ("ru", "Экскаваторы")]),
    sub(
        "Construction machinery",
        "Wheel loaders",
        &[("de", "Radlader"), ("pl", "Ładowarki kołowe"), ("ru", "Фронтальные погрузчики")],
    ),
    sub("Construction machinery", "Bulldozers", &[("de", "Planierraupen"), ("pl", "Spycharki"), ("ru", "Бульдозеры")]),
    sub(
        "Construction machinery",
        "Mini excavators",
        &[("de", "Minibagger"), ("pl", "Minikoparki"), ("ru", "Мини-экскаваторы")],
    ),
    sub(
        "Construction machinery",
        "Backhoe loaders",
        &[("de", "Baggerlader"), ("pl", "Koparko-ładowarki"), ("ru", "Экскаваторы-погрузчики")],
    ),
    sub(
        "Construction machinery",
        "Skid steer loaders",
        &[("de", "Kompaktlader"), ("pl", "Miniładowarki"), ("ru", "Мини-погрузчики с бортовым поворотом")],
    ),
    sub(
        "Construction machinery",
        "Telehandlers",
        &[("de", "Teleskoplader"), ("pl", "Ładowarki teleskopowe"), ("ru", "Телескопические погрузчики")],
    ),
    sub("Construction machinery", "Dumpers", &[("de", "Dumper"), ("pl", "Wozidła"), ("ru", "Думперы")]),
    sub(
        "Construction machinery",
        "Road rollers",
        &[("de", "Straßenwalzen"), ("pl", "Walce drogowe"), ("ru", "Дорожные катки")],
    ),
    sub("Construction machinery", "Graders", &[("de", "Grader"), ("pl", "Równiarki"), ("ru", "Автогрейдеры")]),
    // Forklifts.
    sub(
        "Forklifts",
        "Diesel forklifts",
        &[("de", "Dieselstapler"), ("pl", "Wózki widłowe z silnikiem Diesla"), ("ru", "Дизельные погрузчики")],
    ),
    sub(
        "Forklifts",
        "Electric forklifts",
        &[("de", "Elektrostapler"), ("pl", "Wózki widłowe elektryczne"), ("ru", "Электропогрузчики")],
    ),
    sub(
        "Forklifts",
        "LPG forklifts",
        &[("de", "Treibgasstapler"), ("pl", "Wózki widłowe LPG"), ("ru", "Газовые погрузчики")],
    ),
    sub(
        "Forklifts",
        "Reach trucks",
        &[("de", "Schubmaststapler"), ("pl", "Wózki z wysuwanym masztem"), ("ru", "Ричтраки")],
    ),
    sub("Forklifts", "Pallet trucks", &[("de", "Hubwagen"), ("pl", "Wózki paletowe"), ("ru", "Паллетные тележки")]),
    sub(
        "Forklifts",
        "Order pickers",
        &[("de", "Kommissionierer"), ("pl", "Wózki do kompletacji zamówień"), ("ru", "Комплектовщики заказов")],
    ),
    // Cranes.
    sub("Cranes", "Mobile cranes", &[("de", "Mobilkrane"), ("pl", "Dźwigi samojezdne"), ("ru", "Самоходные краны")]),
    sub("Cranes", "Tower cranes", &[("de", "Turmdrehkrane"), ("pl", "Żurawie wieżowe"), ("ru", "Башенные краны")]),
    sub("Cranes", "Crawler cranes", &[("de", "Raupenkrane"), ("pl", "Dźwigi gąsienicowe"), ("ru", "Гусеничные краны")]),
    sub(
        "Cranes",
        "Truck-mounted cranes",
        &[("de", "Lkw-Ladekrane"), ("pl", "Żurawie na podwoziu samochodowym"), ("ru", "Краны-манипуляторы")],
    ),
    // Forestry machinery.
    sub(
        "Forestry machinery",
        "Forestry harvesters",
        &[("de", "Harvester"), ("pl", "Harwestery"), ("ru", "Харвестеры")],
    ),
    sub("Forestry machinery", "Forwarders", &[("de", "Rückezüge"), ("pl", "Forwardery"), ("ru", "Форвардеры")]),
    sub("Forestry machinery", "Skidders", &[("de", "Rückeschlepper"), ("pl", "Skiddery"), ("ru", "Скиддеры")]),
    sub("Forestry machinery", "Wood chippers", &[("de", "Holzhacker"), ("pl", "Rębaki"), ("ru", "Рубительные машины")]),
    // Containers.
    sub(
        "Containers",
        "20 ft containers",
        &[("de", "20-Fuß-Container"), ("pl", "Kontenery 20-stopowe"), ("ru", "20-футовые контейнеры")],
    ),
    sub(
        "Containers",
        "40 ft containers",
        &[("de", "40-Fuß-Container"), ("pl", "Kontenery 40-stopowe"), ("ru", "40-футовые контейнеры")],
    ),
    sub(
        "Containers",
        "Refrigerated containers",
        &[("de", "Kühlcontainer"), ("pl", "Kontenery chłodnicze"), ("ru", "Рефрижераторные контейнеры")],
    ),
    sub(
        "Containers",
        "Tank containers",
        &[("de", "Tankcontainer"), ("pl", "Kontenery cysterny"), ("ru", "Танк-контейнеры")],
    ),
    // Countries.
    country("Germany", &[("de", "Deutschland"), ("pl", "Niemcy"), ("ru", "Германия")]),
    country("Poland", &[("de", "Polen"), ("pl", "Polska"), ("ru", "Польша")]),
    country("Netherlands", &[("de", "Niederlande"), ("pl", "Holandia"), ("ru", "Нидерланды")]),
    country("France", &[("de", "Frankreich"), ("pl", "Francja"), ("ru", "Франция")]),
    country("Italy", &[("de", "Italien"), ("pl", "Włochy"), ("ru", "Италия")]),
    country("Spain", &[("de", "Spanien"), ("pl", "Hiszpania"), ("ru", "Испания")]),
    country("Czechia", &[("de", "Tschechien"), ("pl", "Czechy"), ("ru", "Чехия")]),
    country("Slovakia", &[("de", "Slowakei"), ("pl", "Słowacja"), ("ru", "Словакия")]),
    country("Lithuania", &[("de", "Litauen"), ("pl", "Litwa"), ("ru", "Литва")]),
    country("Belgium", &[("de", "Belgien"), ("pl", "Belgia"), ("ru", "Бельгия")]),
    country("Austria", &[("de", "Österreich"), ("pl", "Austria"), ("ru", "Австрия")]),
    country("Hungary", &[("de", "Ungarn"), ("pl", "Węgry"), ("ru", "Венгрия")]),
    country("Romania", &[("de", "Rumänien"), ("pl", "Rumunia"), ("ru", "Румыния")]),
    country("Sweden", &[("de", "Schweden"), ("pl", "Szwecja"), ("ru", "Швеция")]),
    country("Denmark", &[("de", "Dänemark"), ("pl", "Dania"), ("ru", "Дания")]),
    // Cities whose names differ in these languages.
    city("Germany", "Berlin", &[("ru", "Берлин")]),
    city("Germany", "Hamburg", &[("ru", "Гамбург")]),
    city("Germany", "München", &[("pl", "Monachium"), ("ru", "Мюнхен")]),
    city("Germany", "Köln", &[("pl", "Kolonia"), ("ru", "Кёльн")]),
    city("Poland", "Warszawa", &[("de", "Warschau"), ("ru", "Варшава")]),
    city("Poland", "Kraków", &[("de", "Krakau"), ("ru", "Краков")]),
    city("Poland", "Wrocław", &[("de", "Breslau"), ("ru", "Вроцлав")]),
    city("Poland", "Gdańsk", &[("de", "Danzig"), ("ru", "Гданьск")]),
    city("Poland", "Poznań", &[("de", "Posen"), ("ru", "Познань")]),
    city("Netherlands", "Den Haag", &[("pl", "Haga"), ("ru", "Гаага")]),
    city("Netherlands", "Amsterdam", &[("ru", "Амстердам")]),
    city("France", "Paris", &[("pl", "Paryż"), ("ru", "Париж")]),
    city("Italy", "Roma", &[("de", "Rom"), ("pl", "Rzym"), ("ru", "Рим")]),
    city("Italy", "Milano", &[("de", "Mailand"), ("pl", "Mediolan"), ("ru", "Милан")]),
    city("Italy", "Torino", &[("de", "Turin"), ("pl", "Turyn"), ("ru", "Турин")]),
    city("Italy", "Napoli", &[("de", "Neapel"), ("pl", "Neapol"), ("ru", "Неаполь")]),
    city("Spain", "Madrid", &[("ru", "Мадрид")]),
    city("Spain", "Sevilla", &[("pl", "Sewilla"), ("ru", "Севилья")]),
    city("Czechia", "Praha", &[("de", "Prag"), ("pl", "Praga"), ("ru", "Прага")]),
    city("Slovakia", "Bratislava", &[("pl", "Bratysława"), ("ru", "Братислава")]),
    city("Lithuania", "Vilnius", &[("de", "Wilna"), ("pl", "Wilno"), ("ru", "Вильнюс")]),
    city("Belgium", "Bruxelles", &[("de", "Brüssel"), ("pl", "Bruksela"), ("ru", "Брюссель")]),
    city("Belgium", "Antwerpen", &[("pl", "Antwerpia"), ("ru", "Антверпен")]),
    city("Austria", "Wien", &[("pl", "Wiedeń"), ("ru", "Вена")]),
    city("Hungary", "Budapest", &[("pl", "Budapeszt"), ("ru", "Будапешт")]),
    city("Romania", "București", &[("de", "Bukarest"), ("pl", "Bukareszt"), ("ru", "Бухарест")]),
    city("Sweden", "Stockholm", &[("pl", "Sztokholm"), ("ru", "Стокгольм")]),
    city("Sweden", "Göteborg", &[("ru", "Гётеборг")]),
    city("Denmark", "København", &[("de", "Kopenhagen"), ("pl", "Kopenhaga"), ("ru", "Копенгаген")]),
];
